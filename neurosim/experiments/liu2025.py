"""The main job: e-prop vs BPTT similarity to monkey M1 at matched accuracy.

Liu, Yang & Cueva (ICML 2025), measured with neurosim's public API only:

1. train leaky RNNs on :class:`~neurosim.rnn.tasks.CenterOutReach` (built from
   the Hatsopoulos 2007 kinematics) with BPTT, e-prop and random-feedback e-prop,
   several seeds and initial gains (:mod:`neurosim.experiments.sweep`);
2. at every checkpoint compare the noise-free activity with the M1 rates under
   every clock alignment of the config (``"liu2025"``: model step 185 <-> 0 ms as
   the released analysis; ``"onset"``: the task's true movement onset; see
   :mod:`neurosim.experiments.alignment`), ``neurosim.compare(run.activity(step),
   rates, metric="procrustes", normalize=True, window=window, lag=lag)``, against
   the condition-average baseline and the split-half ceiling
   (:mod:`neurosim.baselines`) on the same window, and sweep the lag
   (-500..+500 ms) at initialization and at matched accuracy;
3. match accuracy (:func:`neurosim.matching.accuracy_matched`), decompose the
   variance of the matched distances into rule / gain / seed
   (:func:`~neurosim.experiments.decomposition.variance_decomposition`),
   compute model-model distances (:func:`neurosim.pairwise`) and dynamics
   (:mod:`neurosim.rnn.analysis.dynamics`) at matched accuracy;
4. write a results folder: ``results.csv`` / ``results.nc`` (one row per run,
   level and alignment), ``training.csv`` (every checkpoint and alignment),
   ``lag_sweep.csv``, ``effects.csv``, ``dynamics.csv``, ``model_distances.nc``,
   ``config.json``, PNG figures (distance vs accuracy and rule vs init per
   alignment, the lag sweep, model-model distances, trajectories in M1's PCs) and
   ``report.md``.

The results folder is written as one unit (:func:`neurosim.io.atomic_directory`: staged beside
``out``, listed in ``MANIFEST.json``, swapped in only when everything succeeded), so a crash or Ctrl-C never
destroys a previous complete result. Runs are trained into a hidden cache beside the folder
(:func:`run_cache`), never into the published folder, and published with it in ``out/runs`` (one
netCDF per run); a re-run with the same settings loads them instead of training again, as does
the re-run of an interrupted job.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
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
from neurosim.datasets.checkpoints import find_checkpoint
from neurosim.experiments.alignment import alignment_label, alignment_lag, lag_sweep
from neurosim.experiments.claims import (claims_markdown, claims_table, effect_intervals, init_column,
                                         matched_inference, rule_differences)
from neurosim.experiments.decomposition import variance_decomposition
from neurosim.experiments.initialisation import (gap_components, paper_checkpoint_distances, penalty_control,
                                                 rate_and_penalty)
from neurosim.experiments.report import fmt, table_to_netcdf, write_csv, write_text
from neurosim.experiments.similar_dynamics import PAIR_GROUPS, data_scale, similar_dynamics
from neurosim.experiments.similar_dynamics import verdict as dynamics_verdict
from neurosim.experiments.sweep import INITS, RunSpec, grid, sweep
from neurosim.io import atomic_directory, lock, save
from neurosim.matching import accuracy_matched, model_distances, run_table
from neurosim.metrics._validate import check_count, check_number
from neurosim.plot import (
    order_rules,
    plot_distance_along_training,
    plot_lag_sweep,
    plot_matched_distances,
    plot_model_distances,
    plot_similar_dynamics,
    save_figure,
    trajectories_grid,
)
from neurosim.rnn import default_checkpoints
from neurosim.rnn.rules import DALE_RULES
from neurosim.rnn.analysis.dynamics import spectral_radius
from neurosim.rnn.tasks import CenterOutReach

__all__ = ["ReproduceConfig", "reproduce", "run_cache", "RESULT_COLUMNS"]

#: columns every ``results.csv`` has (more follow)
RESULT_COLUMNS = ("rule", "seed", "g0", "level", "step", "accuracy", "distance", "distance_normalized", "alignment")
#: type of the checkpoints' parameters in ``runs/``. float64 (lossless): float32 storage would halve
#: the folder but changes printed digits of the DSA results (measured in docs/experiments.md)
RUN_STORE_DTYPE = "float64"
#: columns of ``training.csv`` (one row per run, checkpoint and alignment)
TRAINING_COLUMNS = ("run", "rule", "seed", "g0", "step", "accuracy", "distance", "alignment")

@dataclass(frozen=True)
class ReproduceConfig:
    """Settings of a reproduce run (see :meth:`default`, :meth:`full`, :meth:`tiny`).

    ``design`` is the centre-out trial design (``"liu2025"``: the paper's transient cue;
    ``"sustained"``: the ablation whose direction input stays on). ``window`` is the data time
    range (ms, 0 = movement onset) compared, ``alignments`` the clock alignments every distance
    is computed under (:mod:`neurosim.experiments.alignment`), ``lags`` the lag sweep (ms).
    ``activity_l2`` is the initial weight of the activity penalty and ``activity_l2_schedule``
    its schedule (the paper's: ``10``, ``"adaptive"``); ``readout_init="torch"`` is the paper's
    readout initialization. ``dtype`` is the floating-point type of each training step's
    gradient (``"float32"`` about halves the training time at N = 200; parameters, optimizer and
    every analysis stay float64).

    Initialisation and batch order: ``seeds`` are the initialisations; ``data_seeds`` (optional)
    trains every initialisation on each of these batch orders. ``init="paper"`` starts every run
    from the paper's released update-0 network instead (then ``seeds`` are batch orders only; it is
    found under ``init_path``, the ``data`` folder, ``$NEUROSIM_DATA`` or the cache, and verified by
    sha256 — ``neurosim datasets fetch liu2025_checkpoints``). ``stop_margin``: a run stops at the
    first update whose accuracy reaches ``max(levels) + stop_margin`` (None: all ``steps``).
    Two optional extra groups of runs, analysed beside the main one: ``paper_init_data_seeds``
    (BPTT and e-prop from the paper's initialisation, one run per batch order, all ``steps``, so
    that update ``steps`` sits beside the paper's released networks) and ``control_seeds`` (the
    same rules from these initialisations on the first batch order without the activity penalty:
    the no-penalty control).
    """

    rules: tuple[str, ...] = ("bptt", "eprop", "eprop-random")
    seeds: tuple[int, ...] = (0, 1, 2)
    g0s: tuple[float, ...] = (0.5, 1.0)
    n_rec: int = 200
    steps: int = 300
    lr: float = 5e-4
    batch_size: int = 64
    levels: tuple[float, ...] = (0.4, 0.6, 0.8, 0.9)
    window: tuple[float, float] = (-800.0, 400.0)
    n_checkpoints: int = 31
    n_splits: int = 100
    bootstrap: int = 100  # condition resamples per matched distance (its ci_low / ci_high; ~0.1 s each)
    fixed_point_starts: int = 24
    activity_l2: float = 0.0
    activity_l2_schedule: str = "constant"
    readout_init: str = "torch"
    dtype: str = "float32"
    design: str = "liu2025"
    alignments: tuple = ("liu2025", "onset")
    lags: tuple[float, ...] = tuple(float(v) for v in range(-500, 501, 50))
    label: str = "default"
    exact_matching: bool = True  # evaluate after every update; a checkpoint at each level's crossing step
    data_seeds: tuple[int, ...] | None = None  # batch-order seeds per initialisation (None: the init seed)
    dsa_splits: int = 10  # split-half DSA draws of M1 (the data's floor)
    dsa_null: int = 5  # time-shuffled M1 copies (the DSA null)
    init: str = "seed"  # "paper": every main run starts from the paper's released update-0 network
    init_path: str | None = None  # where the paper's weights are (default: the data folder, $NEUROSIM_DATA, cache)
    stop_margin: float | None = None  # stop a run at accuracy >= max(levels) + stop_margin (None: all steps)
    paper_init_data_seeds: tuple[int, ...] = ()  # extra group: runs from the paper's initialisation, all steps
    control_seeds: tuple[int, ...] = ()  # extra group: these initialisations without the activity penalty
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def default(cls) -> "ReproduceConfig":
        """≤ 5 min on 2 cores: the paper's task and N=200, 300 Adam updates (lr 5e-4, batch 64), float32
        gradients, 3 seeds, gains 0.5 and 1.0, no activity penalty (docs/experiments.md gives the
        measurements behind each choice)."""
        return cls()

    @classmethod
    def full(cls, gain_sweep: bool = False) -> "ReproduceConfig":
        """Paper scale: N=200, T=300, batch 100, 1000 updates at lr 3e-4, activity penalty 10 with the
        adaptive schedule, g0 = 1 (``gain_sweep=True``: 0.5, 1.0, 1.5), 5 seeds, 3 rules; gradients
        in float32 like the default (half the training time; ``dataclasses.replace(cfg, dtype="float64")``
        for double)."""
        return cls(seeds=(0, 1, 2, 3, 4), g0s=(0.5, 1.0, 1.5) if gain_sweep else (1.0,), n_rec=200, steps=1000,
                   lr=3e-4, batch_size=100, activity_l2=10.0, activity_l2_schedule="adaptive",
                   levels=(0.4, 0.6, 0.8, 0.9, 0.95), n_checkpoints=41, label="full")

    @classmethod
    def claims(cls) -> "ReproduceConfig":
        """Paper scale for the rule claim (about 45 min on 2 cores): BPTT and e-prop from 10
        initialisations × 2 batch orders each (40 networks; N = 200, batch 100, lr 3e-4, λ0 = 10
        adaptive, g0 = 1, float32 gradients), levels 0.4–0.9; each run stops once its accuracy
        reaches 0.93 (the highest level + 0.03) or at 1,000 updates. Beside them: both rules from
        the paper's own update-0 network on 3 batch orders (all 1,000 updates, to sit beside the
        paper's released networks) and a no-penalty control (initialisations 0–4, first batch
        order, λ = 0)."""
        return cls(rules=("bptt", "eprop"), seeds=tuple(range(10)), data_seeds=(0, 1), g0s=(1.0,), n_rec=200,
                   steps=1000, lr=3e-4, batch_size=100, activity_l2=10.0, activity_l2_schedule="adaptive",
                   levels=(0.4, 0.6, 0.8, 0.9), n_checkpoints=41, stop_margin=0.03,
                   paper_init_data_seeds=(0, 1, 2), control_seeds=(0, 1, 2, 3, 4), label="claims")

    @property
    def stop_accuracy(self) -> float | None:
        """Where each main run stops (``max(levels) + stop_margin``), or None."""
        return None if self.stop_margin is None else float(max(self.levels)) + float(self.stop_margin)

    def specs(self, init_path: str | None = None) -> dict[str, list]:
        """The runs to train, by group: ``"main"``, ``"paper_init"`` and ``"control"``
        (:class:`~neurosim.experiments.sweep.RunSpec` lists; the extra groups may be empty).

        >>> g = ReproduceConfig.claims().specs()
        >>> len(g["main"]), len(g["paper_init"]), len(g["control"]), g["paper_init"][0].name
        (40, 6, 10, 'bptt_g1_n200_retanh_paperinit_d0')
        """
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}")
        if self.stop_margin is not None:
            check_number(self.stop_margin, "stop_margin", minimum=0.0)
        for name in ("paper_init_data_seeds", "control_seeds"):
            for v in getattr(self, name):
                check_count(v, name, minimum=0)
        common = dict(n_rec=self.n_rec, steps=self.steps, lr=self.lr, batch_size=self.batch_size,
                      checkpoints=self.checkpoint_steps(), readout_init=self.readout_init, dtype=self.dtype,
                      levels=tuple(self.levels) if self.exact_matching else None)
        main = grid(self.rules, self.seeds, self.g0s, activity_l2=self.activity_l2,
                    activity_l2_schedule=self.activity_l2_schedule, stop_accuracy=self.stop_accuracy, **common)
        if self.init == "paper":  # one initialisation: the seeds are batch orders
            main = [replace(s, init="paper", init_path=init_path) for s in main]
        elif self.data_seeds is not None:  # every initialisation trained on each batch order
            main = [replace(s, init_seed=s.seed, data_seed=int(d)) for s in main for d in self.data_seeds]
        paper = [RunSpec(rule, seed=int(d), data_seed=int(d), init="paper", init_path=init_path,
                         activity_l2=self.activity_l2, activity_l2_schedule=self.activity_l2_schedule, **common)
                 for rule in self.rules for d in self.paper_init_data_seeds]
        first = None if self.data_seeds is None else int(self.data_seeds[0])
        control = [RunSpec(rule, seed=int(i), init_seed=int(i), data_seed=first, stop_accuracy=self.stop_accuracy,
                           activity_l2=0.0, label="nopenalty", dale=rule in DALE_RULES, **common)
                   for rule in self.rules for i in self.control_seeds]
        return {"main": main, "paper_init": paper, "control": control}

    @classmethod
    def tiny(cls) -> "ReproduceConfig":
        """Seconds: a smoke test of the whole pipeline (levels low enough to be reached)."""
        return cls(seeds=(0, 1), g0s=(0.5, 1.0), n_rec=12, steps=30, lr=1e-2, batch_size=8, dtype="float64",
                   levels=(-0.5, 0.0), n_checkpoints=7, n_splits=10, bootstrap=20, fixed_point_starts=4,
                   lags=(-320.0, 0.0), label="tiny", dsa_splits=3, dsa_null=2)

    def checkpoint_steps(self) -> tuple[int, ...]:
        """Log-spaced early steps (fast early learning) plus an even grid (for matching)."""
        even = np.linspace(0, self.steps, self.n_checkpoints).round().astype(int)
        return tuple(int(s) for s in np.union1d(default_checkpoints(self.steps, 12), even))

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d


def alignment_lags(alignments, task) -> dict:
    """``{label: lag in ms}`` for the config's alignments (see :mod:`neurosim.experiments.alignment`)."""
    return {alignment_label(a): alignment_lag(a, task) for a in alignments}


def training_curves(runs: dict, rates: xr.DataArray, window, ceiling: float, *, lags: dict | None = None,
                    progress: bool = False) -> pd.DataFrame:
    """Distance to data at every checkpoint of every run, one row per run, step and alignment.

    ``lags`` maps alignment labels to lags in ms (model time ``t`` <-> data time ``t + lag``);
    default ``{"onset": 0}``.
    """
    lags = {"onset": 0.0} if lags is None else dict(lags)
    meta = run_table(runs).set_index("run")
    rows = []
    total = sum(len(r.checkpoints) for r in runs.values())
    with tqdm(total=total, disable=not progress, desc="distance along training", unit="ckpt") as bar:
        for name, run in runs.items():
            for rec in run.checkpoints.itertuples(index=False):
                act = run.activity(int(rec.step))
                for label, lag in lags.items():
                    d = float(compare(act, rates, metric="procrustes", normalize=True, window=window, lag=lag))
                    rows.append({"run": name, "rule": meta.loc[name, "rule"], "seed": meta.loc[name, "seed"],
                                 "g0": meta.loc[name, "g0"], "step": int(rec.step), "loss": float(rec.loss),
                                 "accuracy": float(rec.accuracy), "distance": d,
                                 "distance_normalized": normalized_distance(d, ceiling), "alignment": label})
                bar.update()
    return pd.DataFrame(rows)


def lag_sweeps(runs: dict, matched: pd.DataFrame, task, rates, window, lags, levels: dict) -> pd.DataFrame:
    """Distance vs lag for every run at initialization (step 0) and at matched accuracy.

    ``levels`` maps each rule to its matched level (e.g. the highest level most of its runs
    reach; a missing rule or ``None`` = initialization only). One row per run, stage (``"init"``
    or ``"matched"``) and lag (ms, 0 = the task's onset).
    """
    rows = []
    for name, run in runs.items():
        level = levels.get(run.rule)
        at = matched[(matched["level"] == level) & matched["reached"]].drop_duplicates("run").set_index("run")
        stages = [("init", 0)]
        if level is not None and name in at.index:
            stages.append(("matched", int(at.loc[name, "step"])))
        for stage, step in stages:
            table = lag_sweep(run.activity(step), task, rates, lags=lags, window=window)
            for r in table.itertuples(index=False):
                rows.append({"run": name, "rule": run.rule, "g0": float(run.config["g0"]), "seed": run.seed,
                             "stage": stage, "step": step, "level": level if stage == "matched" else np.nan,
                             "lag": r.lag, "distance": r.distance})
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


def _dynamics_level(matched: pd.DataFrame, levels) -> float | None:
    """Where rules can be compared at equal accuracy: the highest level that at least two runs of
    each of at least two rules reached; else the highest that at least two rules reached with
    three runs in all; else the highest that at least two runs reached."""
    ok = matched[matched["reached"]]
    per_level = {lv: ok[ok["level"] == lv].groupby("rule")["run"].nunique() for lv in sorted(levels, reverse=True)}
    for wanted in (lambda r: (r >= 2).sum() >= 2, lambda r: (r >= 1).sum() >= 2 and r.sum() >= 3,
                   lambda r: r.sum() >= 2):
        for lv, per_rule in per_level.items():
            if len(per_rule) and wanted(per_rule):
                return float(lv)
    return None


def run_cache(folder: str | os.PathLike) -> Path:
    """Where :func:`reproduce` trains into: the hidden folder ``.NAME.runs`` beside the results folder.

    The published folder is never written before its final swap, so the previous complete result
    stays as it was at every moment; an interrupted job leaves its finished runs here and the next
    job loads them instead of training again. Removed once the new folder is in place (its runs are
    then in ``NAME/runs``).

    Examples
    --------
    >>> run_cache("results").name
    '.results.runs'
    """
    folder = Path(folder)
    return folder.parent / f".{folder.name}.runs"


def _carry_run_cache(sources, staging: Path) -> None:
    """Give the new results folder the trained runs of each folder of ``sources`` (later ones win for
    the same name): hard links, copies where links are not possible. The sources are only read."""
    picked: dict[str, Path] = {}
    for source in sources:
        if source.is_dir():
            picked.update({f.name: f for f in source.glob("*.nc")})
    if not picked:
        return
    (staging / "runs").mkdir()
    for name, f in sorted(picked.items()):
        try:
            os.link(f, staging / "runs" / name)
        except OSError:
            shutil.copy2(f, staging / "runs" / name)


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


_ALIGNMENT_TITLES = {"liu2025": "alignment liu2025: model step 185 ↔ 0 ms (the released analysis)",
                     "onset": "alignment onset: the task's movement onset ↔ 0 ms"}


def _alignment_title(label: str) -> str:
    return _ALIGNMENT_TITLES.get(label, f"alignment {label}")


def _trajectory_models(runs: dict, matched: pd.DataFrame, level: float) -> dict:
    """One run per rule (lowest gain, lowest seed that reached ``level``) at step 0 and at its matched step."""
    ok = matched[matched["reached"].astype(bool) & (matched["level"] == level)]
    models = {}
    for rule in order_rules(ok["rule"].unique()):
        pick = ok[ok["rule"] == rule].sort_values(["g0", "seed"]).iloc[0]
        run = runs[pick["run"]]
        col = f"{rule} (g0 {pick['g0']:g}, seed {int(pick['seed'])})"
        models[("at initialisation", col)] = run.activity(0)
        models[(f"at accuracy {level:g}", col)] = run.activity(int(pick["step"]))
    return models


def _figures(folder: Path, training, matched, eff, D, baselines, cfg, lag_table=None, lags=None, runs=None,
             rates=None) -> list[str]:
    """Draw the pipeline's figures into ``folder``; returns the file names written."""
    figures = {}
    labels = list(dict.fromkeys(training["alignment"])) if "alignment" in training else [None]
    for label in labels:
        tr = training if label is None else training[training["alignment"] == label]
        mt = matched if label is None else matched[matched["alignment"] == label]
        ef = eff if label is None or "alignment" not in eff else eff[eff["alignment"] == label]
        suffix = "" if label is None else f"_{label}"
        title = "" if label is None else _alignment_title(label)
        figures[f"distance_vs_accuracy{suffix}.png"] = (
            lambda tr=tr, mt=mt, title=title: plot_distance_along_training(tr, mt, baselines, cfg.levels,
                                                                           title=title))
        figures[f"rule_vs_init{suffix}.png"] = (
            lambda tr=tr, mt=mt, ef=ef, title=title: _titled(plot_matched_distances(tr, mt, ef, baselines,
                                                                                    cfg.levels), title))
    if lag_table is not None and len(lag_table):
        figures["lag_sweep.png"] = lambda: plot_lag_sweep(lag_table, baselines, marks=lags)
    if D is not None:
        figures["model_distances.png"] = lambda: plot_model_distances(D)
    if "alignment" in matched:   # trajectories are drawn on the model's own (onset) clock
        own = "onset" if (matched["alignment"] == "onset").any() else matched["alignment"].iloc[0]
        matched = matched[matched["alignment"] == own]
    reached = matched[matched["reached"].astype(bool)]
    if runs is not None and rates is not None and len(reached):
        level = float(D.attrs["level"]) if D is not None and "level" in D.attrs else float(reached["level"].max())
        figures["trajectories.png"] = lambda: trajectories_grid(
            _trajectory_models(runs, matched, level), rates, window=tuple(cfg.window),
            alignment="0 ms = movement onset", data_label="M1 (Hatsopoulos 2007)",
            title=f"In M1's top 2 PCs: initialisation and accuracy {level:g} · "
                  f"{cfg.window[0]:g} to {cfg.window[1]:g} ms · alignment onset")
    for name, draw in figures.items():
        save_figure(draw(), folder / name, dpi=120)
    return list(figures)


def _titled(fig, title: str):
    if title:
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


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


def _ms(values) -> str:
    """``mean ± SD (n)`` of a series, or ``n/a``."""
    v = pd.Series(values, dtype=float).dropna()
    if not len(v):
        return "n/a"
    sd = f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else ""
    return f"{v.mean():.3f}{sd} ({len(v)})"


def fall_table(training: pd.DataFrame, matched: pd.DataFrame, levels) -> pd.DataFrame:
    """Per alignment, rule and stage (init, each level, final): distances over runs and the paired fall.

    ``fall`` = distance at initialization − distance at the stage, per run (positive = closer to the
    data after training); ``mean``/``sd``/``n`` over the runs that reached the stage.
    """
    rows = []
    for (label, rule), g in training.groupby(["alignment", "rule"], sort=False):
        g = g.sort_values("step")
        init = g.groupby("run").head(1).set_index("run")["distance"]
        final = g.groupby("run").tail(1).set_index("run")
        stages = [("init", init), ("final", final["distance"])]
        m = matched[(matched["alignment"] == label) & (matched["rule"] == rule) & matched["reached"]]
        for lv in levels:
            stages.insert(-1, (f"{lv:g}", m[m["level"] == lv].set_index("run")["distance"]))
        for stage, d in stages:
            fall = (init.reindex(d.index) - d).dropna()
            rows.append({"alignment": label, "rule": rule, "stage": stage, "n": int(d.size),
                         "distance_mean": float(d.mean()) if d.size else np.nan,
                         "distance_sd": float(d.std(ddof=1)) if d.size > 1 else np.nan,
                         "fall_mean": float(fall.mean()) if fall.size else np.nan,
                         "fall_sd": float(fall.std(ddof=1)) if fall.size > 1 else np.nan,
                         "accuracy_final_mean": float(final["accuracy"].mean())})
    return pd.DataFrame(rows)


def _highest_common_level(matched: pd.DataFrame, rule: str, levels, min_runs: int | None = None) -> float | None:
    """The highest level reached by most of ``rule``'s runs (or by at least ``min_runs`` of them)."""
    m = matched[(matched["rule"] == rule)]
    runs = m["run"].nunique()
    best = None
    for lv in levels:
        n = m[(m["level"] == lv) & m["reached"]]["run"].nunique()
        if runs and (n * 2 > runs if min_runs is None else n >= min_runs):
            best = lv
    return best


def _approximate_rule_check(falls: pd.DataFrame, matched: pd.DataFrame, rule: str, levels) -> str:
    """The e-prop target on one set of runs: highest level most runs reach (≥ 0.6), fall there ≥ 0.03."""
    lv = _highest_common_level(matched, rule, levels)
    n = matched[matched["rule"] == rule]["run"].nunique()
    if lv is None:
        return f"no level is reached by most of its {n} runs (target level ≥ 0.6: **not met**)"
    row = falls[(falls["rule"] == rule) & (falls["stage"] == f"{lv:g}")]
    v = float(row["fall_mean"].iloc[0]) if len(row) else np.nan
    ok = lv >= 0.6 and np.isfinite(v) and v >= 0.03
    return (f"highest level reached by most of its {n} runs = {lv:g}; distance falls there by {fmt(v)} "
            f"(target level ≥ 0.6 and fall ≥ 0.03: **{'met' if ok else 'not met'}**)")


def _checks(falls: pd.DataFrame, matched: pd.DataFrame, levels, label="liu2025", training=None) -> list[str]:
    """The pipeline's acceptance checks, stated with the numbers (per gain too when there are several)."""
    out = []
    f = falls[falls["alignment"] == label]
    m = matched[matched["alignment"] == label]
    if not len(f):
        return out
    row = f[(f["rule"] == "bptt") & (f["stage"] == "0.9")]
    if len(row) and np.isfinite(row["fall_mean"].iloc[0]):
        v = float(row["fall_mean"].iloc[0])
        out.append(f"- BPTT at accuracy 0.9 ({label} alignment): distance falls by {v:+.3f} from initialization "
                   f"(target ≥ 0.05: **{'met' if v >= 0.05 else 'not met'}**).")
    gains = sorted(m["g0"].unique()) if "g0" in m else []
    for rule in ("eprop", "eprop-random"):
        if rule not in set(m["rule"]):
            continue
        out.append(f"- {rule} ({label} alignment), all runs: " + _approximate_rule_check(f, m, rule, levels) + ".")
        if len(gains) > 1 and training is not None:
            t = training[training["alignment"] == label]
            for g0 in gains:
                fg = fall_table(t[t["g0"] == g0], m[m["g0"] == g0], levels)
                out.append(f"  - at g0 = {g0:g}: " + _approximate_rule_check(fg, m[m["g0"] == g0], rule, levels) + ".")
    return out


def _report(cfg, baselines, trs, training, matched, rv, eff, dyn, D, dyn_result, timings, files, reused=0, *,
            lag_table=None, lags=None, level_lag=None, claims=None, rdiff=None, scale=None, study=None,
            extra_runs=None) -> str:
    labels = list(dict.fromkeys(training["alignment"]))
    ref = labels[0]
    n_runs = matched["run"].nunique()
    levels = list(cfg.levels)
    falls = fall_table(training, matched, levels)
    penalty = (f"activity penalty λ·mean(r²) with λ0 = {cfg.activity_l2:g} ({cfg.activity_l2_schedule} schedule)"
               if cfg.activity_l2 > 0 else "no activity penalty")
    lines = [f"# neurosim reproduce — e-prop vs BPTT similarity to M1 ({cfg.label} configuration)", ""]
    lines += [
        f"{n_runs} RNNs (N={cfg.n_rec}, rules {', '.join(cfg.rules)}; gains g0 = "
        f"{', '.join(f'{g:g}' for g in cfg.g0s)}; "
        + (f"the paper's released initialisation, batch orders {', '.join(map(str, cfg.seeds))}" if cfg.init == "paper"
           else f"initialisations {', '.join(map(str, cfg.seeds))}"
           + (f" × batch orders {', '.join(map(str, cfg.data_seeds))}" if cfg.data_seeds is not None else ""))
        + f") trained for {cfg.steps} Adam updates (lr {cfg.lr:g}, batch {cfg.batch_size}, {penalty}, readout init "
        f"{cfg.readout_init!r}, gradients in {cfg.dtype})"
        + (f", each stopping early at the first update whose accuracy reaches {cfg.stop_accuracy:g} (the highest "
           f"level + {cfg.stop_margin:g}; `stop_margin`)" if cfg.stop_margin is not None else "")
        + f" on centre-out reaching with the recorded Hatsopoulos 2007 kinematics, trial "
        f"design {cfg.design!r}. Accuracy = 1 − normalized error on the 8 evaluation trials (one per "
        f"direction, onset at step {_eval_onset(cfg)}). Distance = rotation-only Procrustes, angular, divided by "
        f"π/2, data window {cfg.window[0]:g}…{cfg.window[1]:g} ms around movement onset, model vs 141 M1 units.",
        "",
        "Every distance is computed under each clock alignment: "
        + "; ".join(f"`{k}` (lag {v:+g} ms)" for k, v in (lags or {}).items())
        + ". `liu2025` is the released analysis of the paper (model step 185 ↔ 0 ms, 32 steps after the "
        "task's movement onset); `onset` is the task's true movement onset.",
        "",
        *(_claims_section(claims, baselines) if claims is not None else []),
        *_matched_accuracy_section(matched, levels),
        "## Baselines (same window; they compare data with data, so no alignment enters)",
        f"- split-half ceiling (data vs itself, {cfg.n_splits} random halves): **{fmt(baselines['ceiling'])}** "
        f"(95% of draws in {fmt(baselines['ceiling_ci_low'])}–{fmt(baselines['ceiling_ci_high'])}, "
        f"SD {fmt(baselines['ceiling_sd'])})",
        f"- condition-average baseline: **{fmt(baselines['condition_average'])}**",
        "- `distance_normalized` = (d − ceiling) / (1 − ceiling): 0 = as close as the data is to itself.",
        "",
        "## 1. Does distance fall with training? (mean ± SD over runs (runs); fall = paired init − stage)",
        "",
        "| rule | stage | " + " | ".join(f"distance, {k}" for k in labels) + " | "
        + " | ".join(f"fall, {k}" for k in labels) + " |",
        "|---|---|" + "---|" * (2 * len(labels)),
    ]
    for rule in order_rules(falls["rule"].unique()):
        for stage in ["init", *[f"{lv:g}" for lv in levels], "final"]:
            cells, fcells = [], []
            for k in labels:
                r = falls[(falls["alignment"] == k) & (falls["rule"] == rule) & (falls["stage"] == stage)]
                if not len(r) or r["n"].iloc[0] == 0:
                    cells.append("not reached"), fcells.append("")
                    continue
                r = r.iloc[0]
                sd = f" ± {r['distance_sd']:.3f}" if np.isfinite(r["distance_sd"]) else ""
                cells.append(f"{r['distance_mean']:.3f}{sd} ({int(r['n'])})")
                fsd = f" ± {r['fall_sd']:.3f}" if np.isfinite(r["fall_sd"]) else ""
                fcells.append("" if stage == "init" else f"{r['fall_mean']:+.3f}{fsd}")
            last = f"step {cfg.steps}" if cfg.stop_margin is None else f"early stop at {cfg.stop_accuracy:g} or step {cfg.steps}"
            name = {"init": "initialization", "final": f"final ({last})"}.get(stage, f"accuracy {stage}")
            lines.append(f"| {rule} | {name} | " + " | ".join(cells) + " | " + " | ".join(fcells) + " |")
    lines += [""] + _checks(falls, matched, levels, training=training)
    for k in labels:
        tr = trs[k]
        lines.append(f"- {k}: Spearman ρ(accuracy, distance) per run over checkpoints with accuracy ≥ 0: median "
                     f"{fmt(tr['rho_median'], 2)}, negative in {100 * tr['fraction_negative']:.0f}% of runs; "
                     "verdict: " + _trend_verdict(tr))
    # reached counts
    first = matched[matched["alignment"] == ref]
    lines += ["", "## 2. Runs that do not reach each level", "",
              "| rule | g0 | " + " | ".join(f"{lv:g}" for lv in levels) + " |", "|---|---|" + "---|" * len(levels)]

    def missing(g):
        total = g["run"].nunique()
        return [f"{total - g[(g['level'] == lv) & g['reached']]['run'].nunique()} of {total}" for lv in levels]

    gains = sorted(first["g0"].unique())
    for rule in order_rules(first["rule"].unique()):
        g = first[first["rule"] == rule]
        if len(gains) > 1:
            for g0 in gains:
                lines.append(f"| {rule} | {g0:g} | " + " | ".join(missing(g[g["g0"] == g0])) + " |")
        lines.append(f"| {rule} | {'all' if len(gains) > 1 else f'{gains[0]:g}'} | " + " | ".join(missing(g)) + " |")
    # rule difference
    lines += _rule_difference_section(rdiff if rdiff is not None else pd.DataFrame(), labels)
    # init / gain effect
    lines += _effects_section(eff, init_column(matched))
    init_g = training[training["step"] == 0].groupby(["alignment", "g0"])["distance"].mean()
    if len(init_g):
        lines.append("")
        lines.append("- distance at initialization by gain: " + "; ".join(
            f"{k} g0={g0:g}: {v:.3f}" for (k, g0), v in init_g.items()))
    # alignment paragraph
    lines += ["", "## 5. What the alignment does to the conclusions", ""]
    lines.append(_alignment_paragraph(falls, baselines, labels, levels, lag_table, lags))
    if lag_table is not None and len(lag_table):
        lines += ["", "| rule | stage | best lag (ms) | distance there | distance at " +
                  " | distance at ".join(labels) + " |", "|---|---|---|---|" + "---|" * len(labels)]
        for (rule, stage), g in lag_table.groupby(["rule", "stage"], sort=False):
            mean = g.groupby("lag")["distance"].mean()
            at = [fmt(mean.get(float(lags[k]), np.nan)) for k in labels]
            name = stage if stage == "init" else f"matched {level_lag[rule]:g} ({g['run'].nunique()} runs)"
            lines.append(f"| {rule} | {name} | {mean.idxmin():+g} | {mean.min():.3f} | " + " | ".join(at) + " |")
        lines.append("")
        lines.append("(`lag_sweep.png`, `lag_sweep.csv`: mean over runs of distance vs lag; a model aligns best "
                     "where its curve is lowest.)")
    if D is not None:
        gr, gg = _group_means(D, "rule"), _group_means(D, "g0")
        lines += ["", f"## 6. Model-model distances at accuracy {D.attrs['level']:g}",
                  f"- same rule {fmt(gr['within'])} vs different rules {fmt(gr['between'])}; "
                  f"same g0 {fmt(gg['within'])} vs different g0 {fmt(gg['between'])} "
                  f"(mean Procrustes distance over pairs, no alignment involved; data ceiling "
                  f"{fmt(baselines['ceiling'])})."]
    if dyn_result is not None:
        st = dyn_result["settings"]
        nets, groups = dyn, dyn_result["groups"]
        lines += ["", f"## 7. Dynamics at matched accuracy {st['level']:g} (the paper's third claim)", "",
                  f"DSA (Ostrow et al. 2023): delay embedding ({st['n_delays']} delays of {st['delay_interval']} bin), "
                  f"rank-{st['rank']} DMD operator per system, angular Procrustes distance between operators over "
                  f"the orthogonal group (radians; 0 = the same linear dynamics up to a rotation or reflection). "
                  f"Activity of the window {st['window'][0]:g} … {st['window'][1]:g} ms on the `{labels[0]}` clock "
                  f"(lag {st['lag']:+g} ms). "
                  f"Fixed points under the delay-period input {st['delay_inputs']} "
                  f"({st['fixed_point_starts']} starts per network). Level: the highest where rules can be compared "
                  "(≥ 2 runs of ≥ 2 rules; else ≥ 2 rules and ≥ 3 runs).", "",
                  "| rule | networks | DSA to M1 (rad), mean ± SD | fixed points | stable | participation ratio | "
                  "spectral radius W_rec |", "|---|---|---|---|---|---|---|"]
        for rule in order_rules(nets["rule"].unique()):
            g = nets[nets["rule"] == rule]
            sd = g["dsa_to_data"].std(ddof=1) if len(g) > 1 else np.nan
            lines.append(f"| {rule} | {len(g)} | {fmt(g['dsa_to_data'].mean())} ± {fmt(sd)} | "
                         f"{g['n_fixed_points'].mean():.1f} | {g['n_stable_fixed_points'].mean():.1f} | "
                         f"{g['participation_ratio'].mean():.2f} | {g['spectral_radius_W_rec'].mean():.2f} |")
        lines += ["", "| model-model pairs | pairs | DSA (rad), mean ± SD |", "|---|---|---|"]
        for r in groups.itertuples(index=False):
            lines.append(f"| {r.group} | {int(r.count)} | {fmt(r.mean)} ± {fmt(r.std)} |")
        v = dynamics_verdict(dyn_result)
        lines.append("")
        if "rule_minus_init" in v:
            lines.append(f"- a different rule from the same initialization moves the dynamics by "
                         f"{v['rule_minus_init'] + groups.set_index('group')['mean'].get('same rule, other init', np.nan):.3f} rad "
                         f"on average, against {groups.set_index('group')['mean'].get('same rule, other init', np.nan):.3f} rad "
                         f"for the same rule from another initialization (difference {v['rule_minus_init']:+.3f}, "
                         f"SD of the latter {fmt(v['init_sd'])}).")
        else:
            lines.append("- too few runs reached this level under both a shared and a different initialization to "
                         "separate the rule from the initialization.")
        if "to_data_diff" in v:
            lines.append(f"- e-prop − BPTT in DSA to M1: {v['to_data_diff']:+.3f} rad (pooled seed SD "
                         f"{fmt(v['to_data_seed_sd'])}).")
        if scale is not None:
            lines.append(f"- the data's own DSA scale (same window): M1 split-half floor {scale['floor']:.4f} ± "
                         f"{scale['floor_sd']:.4f} rad ({len(scale['floor_values'])} splits into halves of "
                         f"{scale['n_units'] // 2} units); time-shuffled M1 (null) {scale['null']:.3f} ± "
                         f"{fmt(scale['null_sd'], 3)} rad. A DSA difference smaller than the floor's SD is "
                         "indistinguishable at this data's resolution; the claims table gives the verdict on that scale.")
        claim = ("holds" if v["holds"] else "does not hold") if len(v) > 1 else "cannot be tested"
        few = {rule: int(n) for rule, n in nets.groupby("rule").size().items() if n < 3}
        if few and claim != "cannot be tested":
            claim += (" — a weak test: only " + ", ".join(f"{n} {rule} network(s)" for rule, n in few.items())
                      + " reached this level")
        lines.append(f"- Seed-spread check (descriptive): the claim {claim} by the criteria the rule's effect on "
                     "the operators is within the initialization's spread, and the e-prop − BPTT difference in DSA "
                     "to M1 is within the seed SD; the verdict on the data's own scale is in the claims table. "
                     "`dynamics.png`, `dynamics.csv`, `dsa_pairs.csv`, `dsa_distances.nc`, `dsa_scale.json`.")
    if study is not None:
        lines += _initialisation_section(study, matched, cfg)
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in files]
    lines += ["", "## Run time", ""] + [f"- {k}: {v:.1f} s" for k, v in timings.items()]
    if reused:
        total = n_runs + sum(len(v) for v in (extra_runs or {}).values())
        lines.append(f"- {reused} of {total} runs were loaded from `runs/` (trained by an earlier "
                     "invocation), so the training time above is mostly loading.")
    lines += ["", "Numbers are what this run measured; re-run with `neurosim reproduce` (default), "
              "`neurosim reproduce --full` (paper scale) or `neurosim reproduce --claims` (the rule claim over "
              "initialisations and batch orders)."]
    return "\n".join(lines) + "\n"


def _initialisation_study(cfg, matched, extra, rates, task, window, ceiling, lags, init_path) -> dict:
    """Variance components of the paired gap, and the extra groups (paper initialisation, no-penalty
    control) matched and scored like the main runs. Returns tables by file stem."""
    study = {"gap_components": gap_components(matched)}
    levels = list(cfg.levels)
    for group, runs_g in extra.items():
        parts = []
        for label, lag in lags.items():
            m = accuracy_matched(runs_g, rates, metric="procrustes", levels=levels, window=window,
                                 ceiling=ceiling, normalize=True, lag=lag)
            m["accuracy_gap"] = m["accuracy"] - m["level"]
            parts.append(rate_and_penalty(runs_g, m).assign(alignment=label, group=group))
        study[f"{group}_matched"] = pd.concat(parts, ignore_index=True)
    if "control" in extra:
        study["penalty_control"] = penalty_control(matched, study["control_matched"])
    if "paper_init" in extra:
        rows = []
        for name, run in extra["paper_init"].items():
            step = int(run.steps[-1])
            act = run.activity(step)
            acc = float(run.checkpoints.set_index("step").loc[step, "accuracy"])
            for label, lag in lags.items():
                d = float(compare(act, rates, metric="procrustes", normalize=True, window=window, lag=lag))
                rows.append({"run": name, "rule": run.rule, "seed": run.seed, "update": step, "accuracy": acc,
                             "alignment": label, "distance": d, "mean_sq_rate": float(np.mean(act.values ** 2))})
        study["paper_init_final"] = pd.DataFrame(rows)
        try:
            study["paper_checkpoints"] = paper_checkpoint_distances(task, rates, window=window, lags=lags,
                                                                    path=init_path)
        except FileNotFoundError:
            study["paper_checkpoints"] = None  # the report says they were not found
    return study


def _initialisation_section(study: dict, matched: pd.DataFrame, cfg) -> list[str]:
    """Report section: initialisation vs batch order, the penalty at matched checkpoints, the paper's
    own initialisation next to its released networks, and the no-penalty control."""
    lines = ["", "## 8. Initialisation, batch order and the activity penalty", "",
             "Paired gap e-prop − BPTT (same initialisation and batch order) at matched accuracy, split into the "
             "spread between initialisations and the spread between batch orders of one initialisation "
             "(one-way random-effects ANOVA, method of moments; ICC = share of the gap's variance that is "
             "between initialisations). Distances are normalized Procrustes angles.", "",
             "| alignment | level | initialisations × pairs each | mean gap | SD between initialisations | "
             "SD within (batch order) | ICC |", "|---|---|---|---|---|---|---|"]
    gc = study["gap_components"]
    for r in gc.itertuples(index=False):
        if not r.n_pairs:
            lines.append(f"| {r.alignment} | {r.level:g} | 0 | not reached by both rules | | | |")
            continue
        lines.append(f"| {r.alignment} | {r.level:g} | {int(r.n_inits)} × {r.n_per_init:.1f} | {r.gap_mean:+.4f} | "
                     f"{fmt(r.sd_between_init, 4)} | {fmt(r.sd_within_init, 4)} | {fmt(r.icc, 2)} |")
    ok = matched[matched["reached"] & (matched["alignment"] == matched["alignment"].iloc[0])]
    lines += ["", "Penalty weight λ in force and mean squared rate mean(r²) (evaluation trials, all steps and "
              "units) at every matched checkpoint (per-row values in `results.csv`); ρ = Spearman correlation "
              "over a rule's networks between mean(r²) and matched distance (`" + str(ok["alignment"].iloc[0]
                                                                                    if len(ok) else "") + "`).", "",
              "| rule | level | networks | λ mean (min–max) | mean(r²) mean (min–max) | ρ(mean r², distance) |",
              "|---|---|---|---|---|---|"]
    for (rule, level), g in ok.groupby(["rule", "level"]):
        rho = (spearmanr(g["mean_sq_rate"], g["distance"]).statistic
               if len(g) >= 3 and g["mean_sq_rate"].nunique() > 1 else np.nan)
        lines.append(f"| {rule} | {level:g} | {len(g)} | {g['activity_l2'].mean():.3g} ({g['activity_l2'].min():.3g}–"
                     f"{g['activity_l2'].max():.3g}) | {g['mean_sq_rate'].mean():.3f} ({g['mean_sq_rate'].min():.3f}–"
                     f"{g['mean_sq_rate'].max():.3f}) | {fmt(rho, 2)} |")
    if "paper_init_final" in study:
        fin, rel = study["paper_init_final"], study.get("paper_checkpoints")
        pm = study["paper_init_matched"]
        pm = pm[pm["reached"]]
        lines += ["", "**From the paper's own initialisation** (its released update-0 network; one run per batch "
                  "order, all updates) beside the paper's released networks after 1,000 updates, scored by the same "
                  "pipeline. Mean ± SD over batch orders (n).", "",
                  "| alignment | rule | stage | neurosim: distance | accuracy | mean(r²) | paper's network: distance "
                  "| accuracy |", "|---|---|---|---|---|---|---|---|"]
        for label in fin["alignment"].unique():
            for rule in order_rules(fin["rule"].unique()):
                for level in cfg.levels:
                    g = pm[(pm["alignment"] == label) & (pm["rule"] == rule) & (pm["level"] == level)]
                    if len(g):
                        lines.append(f"| {label} | {rule} | accuracy {level:g} | {g['distance'].mean():.4f} ± "
                                     f"{fmt(g['distance'].std(ddof=1), 4)} ({len(g)}) | {g['accuracy'].mean():.3f} | "
                                     f"{g['mean_sq_rate'].mean():.3f} | | |")
                g = fin[(fin["alignment"] == label) & (fin["rule"] == rule)]
                paper = "not found" if rel is None else ""
                acc = ""
                if rel is not None:
                    p = rel[(rel["alignment"] == label) & (rel["rule"] == rule)]
                    paper, acc = (f"{p['distance'].iloc[0]:.4f}", f"{p['accuracy'].iloc[0]:.4f}") if len(p) else ("", "")
                lines.append(f"| {label} | {rule} | update {int(g['update'].max())} | {g['distance'].mean():.4f} ± "
                             f"{fmt(g['distance'].std(ddof=1), 4)} ({len(g)}) | {g['accuracy'].mean():.4f} | "
                             f"{g['mean_sq_rate'].mean():.3f} | {paper} | {acc} |")
        pg = gap_components(study["paper_init_matched"])
        lines += ["", "e-prop − BPTT from the paper's initialisation, paired by batch order: "
                  + "; ".join(f"{r.alignment} {r.level:g}: {r.gap_mean:+.4f} ± {fmt(r.sd_within_init, 4)} "
                              f"({int(r.n_pairs)} pairs)" for r in pg.itertuples(index=False) if r.n_pairs)
                  + ". The SD here is between batch orders of one initialisation; compare it with the "
                  "between-initialisation SD above."]
        if rel is None:
            lines.append("The paper's released networks were not found (neurosim datasets fetch liu2025_checkpoints); "
                         "their column is empty.")
    if "penalty_control" in study:
        pc = study["penalty_control"]
        lines += ["", "**No-penalty control** (λ = 0; same initialisations and batch order as the matching main "
                  "runs): the paired gap with and without the penalty, and each rule's mean(r²).", "",
                  "| alignment | level | pairs | gap with penalty | gap without | change (± SD) | e-prop mean(r²) "
                  "with / without | BPTT mean(r²) with / without |", "|---|---|---|---|---|---|---|---|"]
        for r in pc.itertuples(index=False):
            if not r.n_pairs:
                lines.append(f"| {r.alignment} | {r.level:g} | 0 | | | | | |")
                continue
            lines.append(f"| {r.alignment} | {r.level:g} | {r.n_pairs} | {r.gap_penalised:+.4f} | {r.gap_control:+.4f} | "
                         f"{r.change:+.4f} ± {fmt(r.change_sd, 4)} | {fmt(r.rate_eprop_penalised)} / "
                         f"{fmt(r.rate_eprop_control)} | {fmt(r.rate_bptt_penalised)} / {fmt(r.rate_bptt_control)} |")
    lines += ["", "Files: `gap_components.csv`" + ", `paper_init_matched.csv`, `paper_init_final.csv`, "
              "`paper_checkpoints.csv`" * ("paper_init_final" in study)
              + ", `control_matched.csv`, `penalty_control.csv`" * ("penalty_control" in study) + "."]
    return lines


def _claims_section(claims: pd.DataFrame, baselines: dict) -> list[str]:
    margin = baselines["condition_average"] - baselines["ceiling"]
    return ["## Claims of Liu, Yang & Cueva (2025) on this run", "",
            *claims_markdown(claims), "",
            f"Equivalence margin for e-prop ≈ BPTT: 10 % of the gap between the condition-average baseline "
            f"({baselines['condition_average']:.4f}) and the split-half ceiling ({baselines['ceiling']:.4f}) = "
            f"**{0.1 * margin:.4f}** (`rule_difference(..., margin=)` overrides it). Intervals: two-level bootstrap "
            "(networks, then the 8 conditions; paired by initialisation). `claims.csv` holds this table.", ""]


def _matched_accuracy_section(matched: pd.DataFrame, levels) -> list[str]:
    """Matched accuracies per rule and level (the accuracy each distance was measured at)."""
    first = matched[matched["alignment"] == matched["alignment"].iloc[0]]
    ok = first[first["reached"].astype(bool)]
    lines = ["## Matched accuracies (accuracy of the checkpoint each matched distance is measured at)", "",
             "| rule | " + " | ".join(f"level {lv:g}" for lv in levels) + " |", "|---|" + "---|" * len(levels)]
    for rule in order_rules(ok["rule"].unique()):
        cells = []
        for lv in levels:
            a = ok[(ok["rule"] == rule) & (ok["level"] == lv)]["accuracy"]
            cells.append(f"{a.mean():.3f} ({a.min():.3f}–{a.max():.3f}, {a.size})" if a.size else "not reached")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    gap = ok["accuracy"] - ok["level"]
    far = int((gap > 0.01).sum())
    lines += ["", f"Mean (min–max, runs). {far} of {len(ok)} matched rows lie more than 0.01 above their level "
              "(a single update jumped past it); `accuracy_gap` in results.csv has every row's gap.", ""]
    return lines


def _rule_difference_section(rdiff: pd.DataFrame, labels) -> list[str]:
    lines = ["", "## 3. Rule − BPTT at matched accuracy (two-level bootstrap: networks, then conditions)", "",
             "| alignment | level | rule | matched accuracy (rule / BPTT) | difference | 95 % CI | p | TOST p "
             "(margin) | networks |", "|---|---|---|---|---|---|---|---|---|"]
    if not len(rdiff):
        return lines + ["", "No level was reached by at least 2 networks of two rules."]
    for r in rdiff.sort_values(["alignment", "level", "rule"]).itertuples(index=False):
        lines.append(f"| {r.alignment} | {r.level:g} | {r.rule} | {r.accuracy_mean:.3f} / "
                     f"{r.accuracy_reference_mean:.3f} | {r.difference:+.4f} | {r.ci_low:+.4f} … {r.ci_high:+.4f} | "
                     f"{r.p_value:.3f} | {r.p_equivalence:.3f} (±{r.margin:.4f}) | {r.n_a} + {r.n_b}"
                     f"{' paired' if r.paired else ''}"
                     f"{f', resampled as {r.n_units} initialisations' if r.paired and r.n_units < r.n_pairs else ''} |")
    lines += ["", "(`rule_difference.csv`; p: H0 difference = 0; TOST p: H0 |difference| ≥ margin.)"]
    return lines


def _effects_section(eff: pd.DataFrame, icol: str = "seed") -> list[str]:
    lines = ["", "## 4. Initialization (gain g0) vs learning rule at matched accuracy", "",
             "η² = share of the variance in matched distance (Type II sums of squares, main-effects linear model; "
             "`shared` = variance no single factor claims — negative when factors mask each other; the shares "
             "add up to 1). Brackets: 95 % bootstrap interval over initialisations. range = max − min of level "
             "means." + (" `init_seed` = the initialisation; the batch order is left to the residual."
                         if icol == "init_seed" else ""), "",
             f"| alignment | level | runs | η² rule | η² g0 | η² {icol} | η² shared | η² residual | sum | range rule | "
             "range g0 | confounded |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(r, src):
        v = getattr(r, f"eta_sq_{src}", np.nan)
        lo, hi = getattr(r, f"eta_sq_{src}_ci_low", np.nan), getattr(r, f"eta_sq_{src}_ci_high", np.nan)
        if v is None or not np.isfinite(v):
            return "n/a"
        return f"{v:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else "")

    for r in eff.itertuples(index=False):
        conf = getattr(r, "confounded", "")
        conf = conf if isinstance(conf, str) and conf else "no"
        lines.append(f"| {r.alignment} | {r.level:g} | {r.n} | {cell(r, 'rule')} | {cell(r, 'g0')} | "
                     f"{cell(r, icol)} | {cell(r, 'shared')} | {cell(r, 'residual')} | "
                     f"{fmt(getattr(r, 'eta_sq_sum', np.nan), 2)} | {fmt(getattr(r, 'range_rule', np.nan))} | "
                     f"{fmt(getattr(r, 'range_g0', np.nan))} | {conf} |")
    return lines


def _eval_onset(cfg) -> str:
    return "153" if cfg.design == "liu2025" else "80"


def _alignment_paragraph(falls, baselines, labels, levels, lag_table, lags) -> str:
    """Plain-language comparison of the conclusions under each alignment, from the numbers."""
    ca = baselines["condition_average"]
    parts = []
    for k in labels:
        f = falls[(falls["alignment"] == k)]
        init = f[f["stage"] == "init"]["distance_mean"].mean()
        fin = f[f["stage"] == "final"]
        below = [r.rule for r in fin.itertuples() if r.distance_mean < ca]
        above = [r.rule for r in fin.itertuples() if r.distance_mean >= ca]
        fall = fin["fall_mean"].mean()
        parts.append(f"Under `{k}`, untrained networks sit at {init:.3f} on average and training lowers the "
                     f"distance by {fall:+.3f} (mean over rules of the paired fall to the last checkpoint); after "
                     f"training, rules below the condition-average baseline ({ca:.3f}): {', '.join(below) or 'none'}; "
                     f"above it: {', '.join(above) or 'none'}.")
    diffs = []
    for k in labels:
        f = falls[(falls["alignment"] == k) & (falls["stage"] == "final")].set_index("rule")["distance_mean"]
        if "bptt" in f and "eprop" in f:
            diffs.append(f"{k}: {f['eprop'] - f['bptt']:+.3f}")
    if diffs:
        parts.append("The final e-prop − BPTT difference is " + ", ".join(diffs) + ".")
    parts.append("The alignment shifts every absolute number (and decides whether trained networks beat the "
                 "condition-average baseline), so it is reported with every distance; the comparison between "
                 "rules at matched accuracy is made within one alignment.")
    return " ".join(parts)


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
        only when the new run has finished (:func:`neurosim.io.atomic_directory`; check a folder
        with :func:`neurosim.io.check_manifest`).
        Trained runs are published in ``out/runs`` and reused by a re-run; while a job runs
        they are trained into :func:`run_cache` (beside ``out``), so an interrupted job changes
        nothing in ``out`` and its finished runs are reused by the next one.
    data : folder, optional
        Folder holding ``hatsopoulos2007_m1_center_out/`` (default: ``$NEUROSIM_DATA``,
        then the user cache; see ``neurosim datasets fetch``).
    config : ReproduceConfig, optional
        Default :meth:`ReproduceConfig.default` (≤ 5 min on 2 cores);
        :meth:`ReproduceConfig.full` is paper scale.
    client : dask.distributed.Client, optional
        Train the runs on this cluster.
    workers : int
        Without a client: ``> 1`` trains on that many local single-threaded processes
        (:func:`neurosim.experiments.sweep.sweep`).
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

    Raises
    ------
    neurosim.io.LockError
        If another process is writing ``out`` (its run cache or the folder itself): the whole job
        holds the folder's writer lock, from the first trained run to the final swap.
    """
    with lock(out):
        return _reproduce(Path(out), data, config or ReproduceConfig.default(), client, workers, progress,
                          blas_threads)


def _reproduce(folder: Path, data, cfg: ReproduceConfig, client, workers: int, progress: bool,
               blas_threads) -> dict:
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    ds = load("hatsopoulos2007", path=data)  # FileNotFoundError says how to fetch the data
    rates = ds["rates"]
    task = CenterOutReach.from_dataset(ds, design=cfg.design)

    # 1. train ------------------------------------------------------------------
    t0 = time.perf_counter()
    init_path = _paper_weights_path(cfg, data)  # fails here, before any training, if they are needed and absent
    groups = cfg.specs(init_path)
    specs = [s for g in groups.values() for s in g]
    # train into a cache beside the folder: the published folder (and its runs/, read for reuse) is
    # left untouched until the final swap
    cache = run_cache(folder)
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.nc")} if cache.is_dir() else {}
    try:
        runs = sweep(specs, task, out=cache, reuse=folder / "runs", store_dtype=RUN_STORE_DTYPE, client=client,
                     workers=int(workers), progress=progress)
    finally:
        if cache.is_dir() and not any(cache.iterdir()):
            cache.rmdir()  # nothing trained (all reused, or interrupted before the first run finished)
    timings["training"] = time.perf_counter() - t0
    trained = {s.name for s in specs if (cache / f"{s.name}.nc").is_file()
               and (cache / f"{s.name}.nc").stat().st_mtime_ns != before.get(f"{s.name}.nc")}
    reused = len(specs) - len(trained)

    # the analyses below multiply small matrices: one BLAS thread is fastest (and
    # avoids busy-waiting BLAS threads fighting over a loaded machine)
    names = {g: [s.name for s in specs_g] for g, specs_g in groups.items()}
    extra = {g: {n: runs[n] for n in names[g]} for g in ("paper_init", "control") if names[g]}
    with limit_blas_threads(blas_threads):
        return _analyse_and_write(cfg, folder, rates, {n: runs[n] for n in names["main"]}, timings, t_all,
                                  progress, reused, task=task, extra=extra, init_path=init_path)


def _paper_weights_path(cfg: ReproduceConfig, data) -> str | None:
    """Where the paper's released weights are, when the configuration needs them (else None):
    ``cfg.init_path``, else the ``data`` folder if it holds them, else the search order of
    :func:`neurosim.datasets.find_checkpoint`. Raises FileNotFoundError (saying how to get them)."""
    if cfg.init != "paper" and not cfg.paper_init_data_seeds:
        return None
    if cfg.init_path is not None:
        find_checkpoint("liu2025", path=cfg.init_path)
        return str(cfg.init_path)
    if data is not None:
        try:
            find_checkpoint("liu2025", path=data)
            return str(data)
        except FileNotFoundError:
            pass
    find_checkpoint("liu2025")
    return None


def _analyse_and_write(cfg, folder, rates, runs, timings, t_all, progress, reused=0, *, task, extra=None,
                       init_path=None) -> dict:
    # 2. baselines + distance along training --------------------------------------
    t0 = time.perf_counter()
    window = tuple(float(w) for w in cfg.window)
    ceiling = split_half_ceiling(rates, n_splits=cfg.n_splits, seed=0, window=window, normalize=True)
    cond = compare(condition_average(rates), rates, metric="procrustes", normalize=True, window=window)
    baselines = {"ceiling": float(ceiling), "ceiling_ci_low": float(ceiling.ci[0]),
                 "ceiling_ci_high": float(ceiling.ci[1]), "ceiling_sd": float(np.std(ceiling.values)),
                 "condition_average": float(cond)}
    lags = alignment_lags(cfg.alignments, task)
    training = training_curves(runs, rates, window, float(ceiling), lags=lags, progress=progress)
    timings["distances along training"] = time.perf_counter() - t0

    # 3. matched accuracy (per alignment), effects, lag sweep, model-model distances, dynamics --------
    t0 = time.perf_counter()
    front = ["run", "rule", "seed", "init_seed", "g0", "n_rec", "activation", "level", "reached", "step", "accuracy",
             "accuracy_gap", "distance", "distance_normalized", "alignment", "ceiling", "condition_average", "ci_low",
             "ci_high", "n_conditions", "activity_l2", "mean_sq_rate"]
    parts, trs, rvs, effs, diffs = [], {}, [], [], []
    for label, lag in lags.items():
        m = accuracy_matched(runs, rates, metric="procrustes", levels=cfg.levels, window=window,
                             ceiling=ceiling, normalize=True, lag=lag)
        # intervals on shared condition draws (paired across runs), kept for the two-level rule test
        m, reps = matched_inference(runs, m, rates, window=window, lag=lag, bootstrap=cfg.bootstrap, seed=0)
        m["accuracy_gap"] = m["accuracy"] - m["level"]
        m = rate_and_penalty(runs, m)
        m["alignment"] = label
        m["condition_average"] = baselines["condition_average"]
        parts.append(m[[c for c in front if c in m.columns]])
        trs[label] = trend(training[training["alignment"] == label])
        rvs.append(rule_vs_seed(parts[-1]).assign(alignment=label))
        icol = init_column(parts[-1])  # "init_seed" when initialisations were trained on several batch orders
        ef = effects(parts[-1], factors=("rule", "g0", icol))
        if len(ef):
            iv = effect_intervals(parts[-1], factors=("rule", "g0", icol))
            ef = ef.merge(iv[["level"] + [c for c in iv.columns if c not in ef.columns]], on="level", how="left")
        effs.append(ef.assign(alignment=label))
        diffs.append(rule_differences(parts[-1], reps).assign(alignment=label))
    matched = pd.concat(parts, ignore_index=True)
    rv = pd.concat(rvs, ignore_index=True)
    eff = pd.concat(effs, ignore_index=True)
    rdiff = pd.concat(diffs, ignore_index=True)
    first = matched[matched["alignment"] == next(iter(lags))]
    counts = first[first["reached"]].groupby("level")["run"].nunique()
    full_levels = [lv for lv in cfg.levels if counts.get(lv, 0) == len(runs)]
    some_levels = [lv for lv in cfg.levels if counts.get(lv, 0) >= 2]
    level_D = (full_levels or some_levels or [None])[-1]
    # the lag sweep at each rule's highest level that most of its runs reach (else that two of them reach)
    level_lag = {rule: _highest_common_level(first, rule, cfg.levels) for rule in first["rule"].unique()}
    for rule, lv in level_lag.items():
        if lv is None:
            level_lag[rule] = _highest_common_level(first, rule, cfg.levels, min_runs=2)
    sweep_lags = sorted(set(float(v) for v in cfg.lags) | set(float(v) for v in lags.values()))
    lag_table = lag_sweeps(runs, first, task, rates, window, sweep_lags, level_lag)
    D = None
    if level_D is not None:
        D = model_distances(runs, level_D, metric="procrustes", window=window, normalize=True)
    # dynamics: DSA, fixed points and dimensionality where BPTT and e-prop are at equal accuracy
    level_dyn = _dynamics_level(first, cfg.levels)
    dyn, dyn_D, dyn_result = pd.DataFrame(), None, None
    if level_dyn is not None:
        first_label = next(iter(lags))
        dyn_result = similar_dynamics(runs, first, rates, level_dyn, window=window, lag=lags[first_label],
                                      fixed_point_starts=cfg.fixed_point_starts, seed=0)
        dyn = dyn_result["networks"].assign(alignment=first_label)
        dyn["spectral_radius_W_rec"] = [spectral_radius(runs[r.run].model(int(r.step))) for r in dyn.itertuples()]
        dyn_D = dyn_result["matrix"]
    # the data's own DSA scale: M1 split-half floor and a time-shuffled null, on the same window
    scale = data_scale(rates, window=window, n_splits=cfg.dsa_splits, n_null=cfg.dsa_null, seed=0) \
        if dyn_result is not None else None
    claims = claims_table(training, matched, rdiff, dyn if len(dyn) else None, scale,
                          dynamics_alignment=next(iter(lags)) if dyn_result is not None else None)
    timings["matching, effects, lag sweep, dynamics"] = time.perf_counter() - t0
    study = None
    if extra or cfg.data_seeds is not None or cfg.init == "paper":
        t0 = time.perf_counter()
        study = _initialisation_study(cfg, matched, extra or {}, rates, task, window, ceiling, lags, init_path)
        timings["initialisation study"] = time.perf_counter() - t0

    # 4. write the whole results folder as one unit (staged, then swapped in; MANIFEST.json) ------
    t0 = time.perf_counter()
    with atomic_directory(folder, run_id=f"reproduce-{cfg.label}-{int(time.time())}") as staging:
        _carry_run_cache((folder / "runs", run_cache(folder)), staging)
        files = ["claims.csv", "results.csv", "results.nc", "training.csv", "lag_sweep.csv", "effects.csv",
                 "rule_difference.csv", "rule_vs_seed.csv", "dynamics.csv", "baselines.json", "config.json"]
        write_csv(claims, staging / "claims.csv")
        write_csv(rdiff, staging / "rule_difference.csv")
        if scale is not None:
            write_text(json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in scale.items()},
                                  indent=2), staging / "dsa_scale.json")
            files.append("dsa_scale.json")
        write_csv(matched, staging / "results.csv")
        table_to_netcdf(matched, staging / "results.nc",
                        {"description": "distance to Hatsopoulos 2007 M1 at matched accuracy",
                         "config": json.dumps(cfg.to_dict()), **{f"baseline_{k}": v for k, v in baselines.items()}})
        write_csv(training, staging / "training.csv")
        write_csv(lag_table, staging / "lag_sweep.csv")
        write_csv(eff, staging / "effects.csv")
        write_csv(rv, staging / "rule_vs_seed.csv")
        write_csv(dyn, staging / "dynamics.csv")
        if study is not None:
            for key, table in study.items():
                if isinstance(table, pd.DataFrame):
                    write_csv(table, staging / f"{key}.csv")
                    files.append(f"{key}.csv")
        write_text(json.dumps(baselines, indent=2), staging / "baselines.json")
        write_text(json.dumps(cfg.to_dict(), indent=2), staging / "config.json")
        if D is not None:
            D2 = D.copy()
            D2.attrs["unreached"] = D2.attrs.get("unreached", "")
            save(D2, staging / "model_distances.nc")
            files.append("model_distances.nc")
        if dyn_result is not None:
            save(dyn_D, staging / "dsa_distances.nc")
            write_csv(dyn_result["pairs"], staging / "dsa_pairs.csv")
            save_figure(plot_similar_dynamics(dyn_result["networks"], dyn_result["pairs"], group_order=PAIR_GROUPS,
                                              title=f"Dynamics at accuracy {level_dyn:g} "
                                                    f"({_alignment_title(next(iter(lags)))})"),
                        staging / "dynamics.png", dpi=120)
            files += ["dsa_distances.nc", "dsa_pairs.csv", "dynamics.png"]
        files += _figures(staging, training, matched, eff, D, baselines, cfg, lag_table, lags, runs=runs,
                          rates=rates)
        timings["writing + figures"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        report = _report(cfg, baselines, trs, training, matched, rv, eff, dyn, D, dyn_result, timings,
                         files + ["report.md"], reused, lag_table=lag_table, lags=lags, level_lag=level_lag,
                         claims=claims, rdiff=rdiff, scale=scale, study=study, extra_runs=extra)
        write_text(report, staging / "report.md")
        files.append("report.md")
    shutil.rmtree(run_cache(folder), ignore_errors=True)  # its runs are now in folder/runs
    return {"folder": folder, "files": files, "results": matched, "training": training, "effects": eff,
            "rule_vs_seed": rv, "dynamics": dyn, "runs_reused": reused, "baselines": baselines, "trend": trs,
            "lag_sweep": lag_table, "timings": timings, "claims": claims, "rule_difference": rdiff,
            "dsa_scale": scale,
            "model_distances": D, "dynamics_distances": dyn_D}
