"""Figures a user can call: each function draws one figure and returns it (or writes a PNG).

matplotlib is an optional dependency (``pip install "neurosim[plots]"``) and is imported only
here, inside the functions, so ``import neurosim`` never needs it. Files are written atomically
(:func:`save_figure`). This module imports nothing of neurosim above the alignment layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial.distance import pdist, squareform

from neurosim.compare import prepare
from neurosim.io import atomic_path
from neurosim.metrics.rsa import rdm as rdm_vector
from neurosim.metrics.shape import ShapeMetric
from neurosim.trajectories import condition_index, validate_trajectories

__all__ = [
    "save_figure",
    "reference_lines",
    "order_rules",
    "plot_distance_along_training",
    "plot_lag_sweep",
    "plot_matched_distances",
    "plot_model_distances",
    "plot_curvature_vs_gap",
    "plot_curvature_along_training",
    "trajectories_in_pcs",
    "trajectories_grid",
    "condition_rdm",
    "rdm_heatmap",
    "mds_conditions",
    "plot_similar_dynamics",
    "distance_vs_accuracy",
    "reliability_vs_trials",
]


def _pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (matplotlib is optional: imported here)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is an optional extra
        raise ImportError("plotting needs matplotlib: pip install 'neurosim[plots]'") from err
    return plt


def save_figure(fig, path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically (temporary file in the same folder, then ``os.replace``) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Destination ``.png``.
    dpi : int
        Resolution.

    Returns
    -------
    Path
    """
    plt = _pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_curvature_vs_gap(table: pd.DataFrame, path, *, lr: float | None = None, gaps=None) -> Path:
    """Figure: ``lambda_max`` per rule, and ``lambda_max`` against each generalization gap.

    The first panel shows every run (dots) and the median with the interquartile range (black)
    per rule; the others plot ``lambda_max`` against each gap (default: every ``gap_loss_*``
    column). The ``lambda_max`` axis is logarithmic when all values are positive (curvature is
    heavy-tailed over seeds). Every panel draws the ``2 / lr`` line. It is the exact stability
    threshold of *plain* gradient descent with step ``lr`` (GD cannot settle where
    ``lambda_max > 2 / lr``); the trainer uses Adam, whose threshold applies to the
    preconditioned Hessian, so for Adam runs the line is a reference scale, not a stability
    boundary (the figure's caption says so).

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    path : str or Path
        PNG file, written atomically (temporary file in the same folder, then ``os.replace``).
    lr : float, optional
        Learning rate (default: ``table.attrs["settings"]["lr"]``).
    gaps : sequence of str, optional
        Gap columns to plot against (default: every ``gap_loss_*``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> t = pd.DataFrame({"rule": ["bptt", "eprop"], "seed": [0, 0], "lambda_max": [1.0, 2.0],
    ...                   "gap_loss_timing": [0.1, 0.2]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = plot_curvature_vs_gap(t, os.path.join(d, "f.png"), lr=1e-3)
    ...     p.stat().st_size > 0
    True
    """
    plt = _pyplot()
    if gaps is None:
        gaps = [c for c in table.columns if c.startswith("gap_loss_")]
    gaps = [gaps] if isinstance(gaps, str) else list(gaps)
    missing = [g for g in gaps if g not in table.columns]
    if missing or not gaps:
        raise ValueError(f"gap columns {missing or gaps} not in table; it has "
                         f"{[c for c in table.columns if c.startswith('gap_')]}")
    lr = table.attrs.get("settings", {}).get("lr") if lr is None else lr
    path = Path(path)
    lam = table["lambda_max"].to_numpy(float)
    log = bool(np.all(lam > 0))
    rules = list(dict.fromkeys(table["rule"]))
    colors = dict(zip(rules, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, 1 + len(gaps), figsize=(4.2 * (1 + len(gaps)), 4.2))
    ax0, rest = axes[0], axes[1:]
    for i, rule in enumerate(rules):
        sub = table[table["rule"] == rule]
        jitter = np.linspace(-0.12, 0.12, len(sub)) if len(sub) > 1 else np.zeros(1)
        ax0.scatter(i + jitter, sub["lambda_max"], color=colors[rule], zorder=3)
        q1, med, q3 = np.percentile(sub["lambda_max"], [25, 50, 75])
        ax0.errorbar(i + 0.25, med, yerr=[[med - q1], [q3 - med]], fmt="s", color="k", capsize=3)
        for ax, gap in zip(rest, gaps):
            ax.scatter(sub["lambda_max"], sub[gap], color=colors[rule], label=rule, zorder=3)
    ax0.set_xticks(range(len(rules)), rules)
    ax0.set_ylabel("top Hessian eigenvalue λ_max (W_rec)")
    ax0.set_title("curvature at matched accuracy\n(dots: seeds; black: median, IQR)", fontsize=10)
    for ax, gap in zip(rest, gaps):
        ax.set_xlabel("λ_max")
        ax.set_ylabel(gap.replace("_", " ") + " (test − train)")
        ax.axhline(0.0, color="lightgrey", lw=0.8, zorder=0)
        ax.set_title(f"curvature vs {gap.replace('gap_loss_', '')} gap", fontsize=10)
        if log:
            ax.set_xscale("log")
    if rest.size:
        rest[0].legend(frameon=False, fontsize=8)
    if log:
        ax0.set_yscale("log")
    if lr:
        line = 2.0 / float(lr)
        ax0.axhline(line, color="grey", ls="--", lw=1)
        for ax in rest:
            ax.axvline(line, color="grey", ls="--", lw=1)
        ax0.text(0.02, 0.97, f"2/lr = {line:.3g}", transform=ax0.transAxes, va="top", color="grey")
    fig.text(0.01, 0.005, "Dashed: 2/lr, the exact stability limit of plain gradient descent with step lr. "
             "Training used Adam, for which it is only a reference scale.", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save_figure(fig, path)


def plot_curvature_along_training(tables: dict, path, *, lr: float | None = None) -> Path:
    """Figure: ``lambda_max`` against training step, one line per run, with the ``2 / lr`` line.

    Parameters
    ----------
    tables : dict
        Label (e.g. the rule) -> table of
        :func:`neurosim.rnn.analysis.curvature_along_training` (columns ``step``, ``lambda_max``,
        ``accuracy``).
    path : str or Path
        PNG file, written atomically.
    lr : float, optional
        Learning rate for the ``2 / lr`` reference line (exact for plain gradient descent only;
        a reference scale for Adam).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> t = pd.DataFrame({"step": [0, 10, 100], "lambda_max": [1.0, 5.0, 20.0], "accuracy": [0.5, 0.7, 0.9]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     plot_curvature_along_training({"bptt": t}, os.path.join(d, "f.png"), lr=1e-2).stat().st_size > 0
    True
    """
    plt = _pyplot()
    if not isinstance(tables, dict) or not tables:
        raise ValueError("tables must be a non-empty dict label -> curvature_along_training table")
    for label, t in tables.items():
        if not isinstance(t, pd.DataFrame) or not {"step", "lambda_max"} <= set(t.columns):
            raise ValueError(f"tables[{label!r}] needs the columns 'step' and 'lambda_max' "
                             "(from neurosim.rnn.analysis.curvature_along_training)")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 4))
    positive = True
    for label, t in tables.items():
        t = t.dropna(subset=["lambda_max"])
        positive &= bool(np.all(t["lambda_max"] > 0))
        ax0.plot(t["step"], t["lambda_max"], marker="o", ms=3, label=str(label))
        if "accuracy" in t:
            ax1.plot(t["accuracy"], t["lambda_max"], marker="o", ms=3, label=str(label))
    if positive:
        ax0.set_yscale("log")
        ax1.set_yscale("log")
    ax0.set_xscale("symlog", linthresh=10)
    ax0.set_xlim(left=0)
    ax0.set_xlabel("training step")
    ax1.set_xlabel("accuracy (noise-free conditions)")
    for ax in (ax0, ax1):
        ax.set_ylabel("λ_max (W_rec)")
        if lr:
            ax.axhline(2.0 / float(lr), color="grey", ls="--", lw=1)
    ax0.legend(frameon=False, fontsize=8)
    ax0.set_title("curvature along training", fontsize=10)
    ax1.set_title("curvature against accuracy", fontsize=10)
    fig.text(0.01, 0.005, "Dashed: 2/lr (exact stability limit of plain gradient descent; a reference scale "
             "for Adam).", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save_figure(fig, Path(path))


#: the order and colours rules are drawn in
RULE_ORDER = ("bptt", "rtrl", "tbptt", "eprop", "eprop-random", "fa", "modprop", "mdgl")
RULE_COLORS = {"bptt": "#1f77b4", "tbptt": "#9467bd", "eprop": "#d62728", "eprop-random": "#ff7f0e",
               "rtrl": "#17becf", "fa": "#8c564b", "modprop": "#2ca02c", "mdgl": "#e377c2"}


def order_rules(rules) -> list[str]:
    """Rules in drawing order: the known ones first (:data:`RULE_ORDER`), then the rest sorted."""
    known = [r for r in RULE_ORDER if r in set(rules)]
    return known + sorted(set(rules) - set(known))


def reference_lines(ax, baselines: dict, *, horizontal: bool = True) -> None:
    """Draw the split-half ceiling (line and band) and the condition-average baseline on ``ax``."""
    c, lo, hi, ca = baselines["ceiling"], baselines["ceiling_ci_low"], baselines["ceiling_ci_high"], \
        baselines["condition_average"]
    if horizontal:
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(c, color="0.3", lw=1.5, label=f"split-half ceiling {c:.3f} (band: 95% of draws)")
        ax.axhline(ca, color="k", ls="--", lw=1.5, label=f"condition average {ca:.3f}")
    else:
        ax.axvspan(lo, hi, color="0.85", zorder=0)
        ax.axvline(c, color="0.3", lw=1.5, label=f"split-half ceiling {c:.3f} (band: 95% of draws)")
        ax.axvline(ca, color="k", ls="--", lw=1.5, label=f"condition average {ca:.3f}")


def _pipeline_references(baselines: dict) -> dict:
    """The pipeline's baselines dict as labelled references for :func:`distance_vs_accuracy`."""
    missing = [k for k in ("ceiling", "ceiling_ci_low", "ceiling_ci_high", "condition_average") if k not in baselines]
    if missing:
        raise ValueError(f"baselines lacks {missing}; expected ceiling, ceiling_ci_low, ceiling_ci_high and "
                         "condition_average (baselines.json of the pipeline)")
    return {"split-half ceiling": (baselines["ceiling"], baselines["ceiling_ci_low"],
                                                  baselines["ceiling_ci_high"]),
            "condition-average baseline": baselines["condition_average"]}


def plot_distance_along_training(training: pd.DataFrame, matched: pd.DataFrame, baselines: dict, levels, *,
                                 title: str | None = None):
    """Figure: distance to the data against task accuracy along training, one panel per rule.

    :func:`distance_vs_accuracy` with the pipeline's tables: one line per run (line style =
    initial gain ``g0``), the matched checkpoints as dots, the split-half ceiling (band: 95 % of
    draws) and the condition-average baseline, the matched accuracy levels as labelled dotted
    lines. Every checkpoint is drawn, including the negative accuracies of early training.

    Parameters
    ----------
    training : DataFrame
        One row per run and checkpoint (``run``, ``rule``, ``g0``, ``step``, ``accuracy``,
        ``distance``).
    matched : DataFrame
        Matched-accuracy rows (``rule``, ``reached``, ``accuracy``, ``distance``), drawn as dots.
    baselines : dict
        ``ceiling``, ``ceiling_ci_low``, ``ceiling_ci_high``, ``condition_average``.
    levels : sequence of float
        Matched accuracy levels (vertical lines).

    title : str, optional
        A second title line (e.g. the clock alignment the distances were computed under).

    Returns
    -------
    matplotlib.figure.Figure
    """
    reached = matched[matched["reached"].astype(bool)] if "reached" in matched else matched
    return distance_vs_accuracy(training, hue="rule", col="rule", style="g0", units="run",
                                baselines=_pipeline_references(baselines), levels=levels, matched=reached,
                                ylabel="Procrustes distance to M1 (angle / (π/2))",
                                title="Distance to M1 along training (one line per run, small dots = checkpoints; "
                                      "grey band: 95 % of the split-half draws)"
                                      + (f"\n{title}" if title else ""))


def plot_matched_distances(training: pd.DataFrame, matched: pd.DataFrame, effects: pd.DataFrame, baselines: dict,
                           levels):
    """Figure: distances at matched accuracy by rule and gain, and the η² variance decomposition.

    Left: at each matched accuracy level, one column of dots per rule and gain (dots = networks,
    black bar = mean), against the split-half ceiling (band: 95 % of draws) and the
    condition-average baseline; the mean matched accuracy of each rule is written under each level.
    Right: the share of the variance of the matched distance due to the learning rule, the initial
    gain, the seed, the ``shared`` part no single factor claims (negative when factors mask each
    other), and the residual (η² = SS_source / SS_total; the five add up to 1), with 95 % bootstrap
    intervals over initialisations when ``effects`` has ``eta_sq_<source>_ci_low/high`` columns. A level
    whose design is confounded (column ``confounded``: a gain reached by one rule only) is marked
    ``confounded`` with the reason. Legends sit below the panels, off the data.

    Parameters
    ----------
    training, matched, baselines, levels
        As :func:`plot_distance_along_training`.
    effects : DataFrame
        One row per level with ``eta_sq_<factor>`` columns.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D  # optional dependency

    rules = order_rules(training["rule"].unique())
    gains = sorted(training["g0"].unique())
    refs = _pipeline_references(baselines)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.0), gridspec_kw={"width_ratios": [1.5, 1]})
    for label, ref in refs.items():
        _reference(ax1, label, ref)
    ok = matched[matched["reached"].astype(bool)]
    levels = list(levels)
    nr, ng = len(rules), len(gains)
    width = 0.8 / (nr * ng)
    markers = dict(zip(gains, ["o", "s", "^", "D"] * 4))
    ys = [v for ref in refs.values() for v in _reference_range("", ref)]
    for li, lv in enumerate(levels):
        for ri, rule in enumerate(rules):
            for gi, g0 in enumerate(gains):
                x0 = li + (ri * ng + gi - (nr * ng - 1) / 2) * width
                d = ok[(ok["level"] == lv) & (ok["rule"] == rule) & (ok["g0"] == g0)]["distance"]
                if d.size:
                    ax1.scatter(np.full(d.size, x0), d, color=RULE_COLORS.get(rule, "C2"), marker=markers[g0],
                                s=18, alpha=0.85, zorder=3)
                    ax1.plot([x0 - width / 2, x0 + width / 2], [d.mean()] * 2, color="k", lw=1.4, zorder=4)
                    ys += list(d)
    lo, hi = min(ys), max(ys)
    pad = 0.05 * (hi - lo or 1.0)
    ax1.set_ylim(lo - pad, hi + pad)
    ax1.set_xlim(-0.5, len(levels) - 0.5)
    ticks = []
    for lv in levels:
        accs = ok[ok["level"] == lv].groupby("rule")["accuracy"].mean()
        ticks.append(f"accuracy {lv:g}\n" + "\n".join(f"{r}: {accs[r]:.3f}" for r in rules if r in accs))
    ax1.set_xticks(range(len(levels)), ticks, fontsize=8)
    ax1.tick_params(labelsize=8)
    ax1.set_ylabel("Procrustes distance to M1 (angle / (π/2))", fontsize=9)
    ax1.set_title("At matched accuracy (dots = networks, black bars = means;\ngrey band: 95 % of the split-half draws)",
                  fontsize=10)
    hs, ls_ = ax1.get_legend_handles_labels()
    hs += [Line2D([], [], color=RULE_COLORS.get(r, "C2"), marker="o", ls="none") for r in rules]
    ls_ += rules
    hs += [Line2D([], [], color="0.4", marker=markers[g], ls="none") for g in gains]
    ls_ += [f"g0 = {g:g}" for g in gains]
    ax1.legend(hs, ls_, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.045 * len(rules)), ncol=3,
               frameon=False)
    init = "init_seed" if "eta_sq_init_seed" in effects else "seed"
    sources = [("rule", "learning rule"), ("g0", "initial gain g0"),
               (init, "initialisation seed" if init == "init_seed" else "seed"),
               ("shared", "shared (no single factor)"), ("residual", "residual")]
    bw = 0.8 / len(sources)

    def value(lv, col):
        row = effects.loc[effects["level"] == lv]
        return float(row[col].iloc[0]) if col in effects and len(row) else np.nan

    lows = [0.0]
    highs = [1.0]
    for si, (src, lab) in enumerate(sources):
        col = f"eta_sq_{src}"
        vals = np.array([value(lv, col) for lv in levels])
        x = np.arange(len(levels)) + (si - (len(sources) - 1) / 2) * bw
        ax2.bar(x, vals, bw, label=lab)
        lo = np.array([value(lv, f"{col}_ci_low") for lv in levels])
        hi = np.array([value(lv, f"{col}_ci_high") for lv in levels])
        has = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(vals)
        if has.any():
            # the interval as drawn by the bootstrap (a percentile interval need not contain the estimate)
            ax2.vlines(x[has], lo[has], hi[has], color="k", lw=0.8)
            lows.append(float(np.nanmin(lo[has])))
            highs.append(float(np.nanmax(hi[has])))
        if np.isfinite(vals).any():
            lows.append(float(np.nanmin(vals)))
    ax2.axhline(0, color="0.3", lw=0.6)
    ymin, ymax = min(lows) - 0.05, max(highs) + 0.12
    ax2.set_ylim(ymin, ymax)
    reasons = []
    for li, lv in enumerate(levels):
        flag = effects.loc[effects["level"] == lv, "confounded"] if "confounded" in effects else pd.Series([], dtype=object)
        if len(flag) and isinstance(flag.iloc[0], str) and flag.iloc[0]:
            ax2.text(li, ymax - 0.02, "† confounded", ha="center", va="top", fontsize=7, color="C3")
            reasons += [r for r in flag.iloc[0].split("; ") if r not in reasons]
    ax2.set_xticks(range(len(levels)), [f"{lv:g}" for lv in levels])
    ax2.tick_params(labelsize=8)
    ax2.set_xlabel("matched accuracy level" + (f"\n† {'; '.join(reasons)}: gain and rule inseparable there"
                                               if reasons else ""), fontsize=9, color="k")
    ax2.set_ylabel("η² (share of the variance in distance; sums to 1)", fontsize=9)
    ax2.set_title("Rule vs init: variance decomposition\n(bars: 95 % bootstrap interval over initialisations)", fontsize=10)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22 if reasons else -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def _group_spans(keys: list) -> list[tuple[int, int, object]]:
    """Runs of equal consecutive keys as (start, stop, key)."""
    spans, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            spans.append((start, i, keys[start]))
            start = i
    return spans


def plot_model_distances(D):
    """Figure: a model-model distance matrix grouped by rule and gain, and its pairs by group.

    Left: the K×K matrix with networks sorted by rule, initial gain and seed; white lines
    separate the (rule, g0) groups, which label the axes (one label per group, not per network).
    Right: every pair (upper triangle), grouped by whether the two networks share the rule
    and / or the gain, with the group means. Both are distances *between models*: no data
    baseline belongs on these axes.

    Parameters
    ----------
    D : xarray.DataArray (network, network_b)
        From :func:`neurosim.pairwise` with ``rule`` and ``g0`` coordinates and a ``level`` attr.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()

    if not isinstance(D, xr.DataArray) or D.ndim != 2 or not {"rule", "g0"} <= set(D.coords):
        raise ValueError("D must be a (network, network_b) DataArray with 'rule' and 'g0' coordinates "
                         "(from neurosim.pairwise on runs with those attributes)")
    rules = order_rules(np.unique(np.asarray(D["rule"].values).astype(str)))
    rl_all = np.asarray(D["rule"].values).astype(str)
    gl_all = np.asarray(D["g0"].values).astype(float)
    order = sorted(range(D.sizes["network"]),
                   key=lambda i: (rules.index(rl_all[i]), gl_all[i], str(D["network"].values[i])))
    M = D.values[np.ix_(order, order)]
    groups = [(rl_all[i], gl_all[i]) for i in order]
    spans = _group_spans(groups)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.5, 5.4), gridspec_kw={"width_ratios": [1.15, 1]})
    im = ax1.imshow(M, cmap="viridis", vmin=0, vmax=float(M.max()), interpolation="nearest")
    for start, _, _ in spans[1:]:
        ax1.axhline(start - 0.5, color="w", lw=1.2)
        ax1.axvline(start - 0.5, color="w", lw=1.2)
    centres = [(a + b - 1) / 2 for a, b, _ in spans]
    names = [f"{r}\ng0 = {g:g}" for _, _, (r, g) in spans]
    ax1.set_xticks(centres, [n.replace("\n", ", ") for n in names], fontsize=8, rotation=35, ha="right",
                   rotation_mode="anchor")
    ax1.set_yticks(centres, [n.replace("\n", ", ") for n in names], fontsize=8)
    ax1.tick_params(length=0)
    n_per = sorted({b - a for a, b, _ in spans})
    ax1.set_xlabel(f"network (grouped by rule and gain; {'/'.join(map(str, n_per))} networks per group)", fontsize=9)
    cb = fig.colorbar(im, ax=ax1, fraction=0.046, pad=0.03)
    cb.set_label("model-model Procrustes distance (angle / (π/2))", fontsize=9)
    cb.ax.tick_params(labelsize=8)
    ax1.set_title(f"Model-model distances at accuracy {D.attrs.get('level', float('nan')):g}", fontsize=10)

    v = D.values
    iu = np.triu_indices(len(rl_all), 1)
    same_rule = (rl_all[:, None] == rl_all[None, :])[iu]
    same_g = (gl_all[:, None] == gl_all[None, :])[iu]
    pair_groups = {"same rule, same g0": same_rule & same_g, "other rule, same g0": ~same_rule & same_g,
                   "same rule, other g0": same_rule & ~same_g, "other rule, other g0": ~same_rule & ~same_g}
    data = [(name, v[iu][mask]) for name, mask in pair_groups.items() if mask.any()]
    jitter = np.random.default_rng(0)
    for k, (name, d) in enumerate(data, start=1):
        y = k + jitter.uniform(-0.18, 0.18, d.size)
        ax2.scatter(d, y, s=9, alpha=0.5, color="C0", zorder=2)
        ax2.plot([d.mean()] * 2, [k - 0.32, k + 0.32], color="k", lw=2, zorder=3)
        ax2.text(1.01, k, f"mean {d.mean():.3f}\n(n = {d.size})", transform=ax2.get_yaxis_transform(),
                 va="center", fontsize=8)
    ax2.set_yticks(range(1, len(data) + 1), [name for name, _ in data], fontsize=8)
    ax2.set_ylim(0.4, len(data) + 0.6)
    allv = np.concatenate([d for _, d in data]) if data else np.zeros(1)
    pad = 0.04 * (float(allv.max() - allv.min()) or 1.0)
    ax2.set_xlim(float(allv.min()) - pad, float(allv.max()) + pad)
    ax2.set_xlabel("model-model Procrustes distance (angle / (π/2))", fontsize=9)
    ax2.tick_params(labelsize=8)
    ax2.set_title("Pairs grouped by rule and gain (black: group mean)", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# figures a scientist looks at first: trajectories in PCs, RDMs, MDS, distance vs accuracy
# ---------------------------------------------------------------------------
_ANGLE_UNITS = {"deg", "degree", "degrees", "°", "rad", "radian", "radians"}


def _require_trajectories(obj, name: str) -> xr.DataArray:
    """``obj`` as a trial-averaged (condition, time, unit) DataArray, or a clear error."""
    if isinstance(obj, xr.Dataset):
        if "rates" not in obj:
            raise TypeError(f"{name} is a Dataset without a 'rates' variable; pass the DataArray "
                            f"(condition, time, unit) itself, e.g. ds['rates']")
        obj = obj["rates"]
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"{name} must be an xarray.DataArray with dims (condition, time, unit); got "
                        f"{type(obj).__name__} (build one with neurosim.trajectories(array, ...))")
    da = validate_trajectories(obj, name=name)
    return da.mean("trial") if "trial" in da.dims else da


def _angles(values, attrs: dict, coord_name: str = "condition") -> np.ndarray | None:
    """Condition labels as angles in degrees when they are reach directions, else None."""
    vals = np.asarray(values)
    if vals.ndim != 1 or not np.issubdtype(vals.dtype, np.number):
        return None
    units = str(attrs.get("units", "")).strip().lower()
    named = any(w in f"{coord_name} {attrs.get('long_name', '')}".lower() for w in ("direction", "angle"))
    if units in _ANGLE_UNITS or named:
        return np.rad2deg(vals.astype(float)) if units.startswith("rad") else vals.astype(float)
    return None


def _condition_colors(labels, angles):
    """One colour per condition: a cyclic map over 0–360° for angles, else a categorical cycle.

    Returns ``(colors, cmap, norm)``; ``cmap``/``norm`` are None for categorical labels.
    """
    import matplotlib as mpl  # optional dependency

    if angles is not None:
        cmap = mpl.colormaps["hsv"]
        norm = mpl.colors.Normalize(0.0, 360.0)
        return [cmap(norm(a % 360.0)) for a in angles], cmap, norm
    if len(labels) > 20:  # too many for a readable legend: a sequential map over the condition order
        cmap = mpl.colormaps["viridis"]
        norm = mpl.colors.Normalize(0.0, max(1.0, len(labels) - 1.0))
        return [cmap(norm(i)) for i in range(len(labels))], cmap, norm
    cycle = mpl.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return [cycle(i % cycle.N) for i in range(len(labels))], None, None


def _condition_key(fig, labels, colors, cmap, norm, angles, title: str, *, left: float):
    """Colour key off the data, in the figure margin right of ``left`` (figure fraction):
    a colorbar (angles) or a legend."""
    from matplotlib.cm import ScalarMappable  # optional dependency
    from matplotlib.lines import Line2D  # optional dependency

    if cmap is not None and angles is None:  # many categorical conditions: colour = position in the data's order
        sm = ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, cax=fig.add_axes((left + 0.02, 0.18, 0.014, 0.62), label="<colorbar>"))
        idx = np.unique(np.linspace(0, len(labels) - 1, 7).round().astype(int))
        cb.set_ticks(idx)
        cb.set_ticklabels([labels[i] for i in idx])
        cb.ax.tick_params(labelsize=8)
        cb.set_label(f"{title} (in the data's order, {len(labels)} conditions)", fontsize=9)
        return cb
    if cmap is not None:
        sm = ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, cax=fig.add_axes((left + 0.02, 0.18, 0.014, 0.62), label="<colorbar>"))
        ticks = sorted({float(a) % 360.0 for a in angles})
        cb.set_ticks(ticks if len(ticks) <= 12 else np.linspace(0, 360, 9))
        cb.set_ticklabels([f"{t:g}°" for t in (ticks if len(ticks) <= 12 else np.linspace(0, 360, 9))])
        cb.ax.tick_params(labelsize=8)
        cb.set_label(title, fontsize=9)
        return cb
    handles = [Line2D([], [], color=c, lw=2) for c in colors]
    return fig.legend(handles, [str(lab) for lab in labels], title=title, loc="center left",
                      bbox_to_anchor=(left, 0.5), fontsize=8, title_fontsize=9, frameon=False)


def _label_text(index) -> list[str]:
    """Printable condition labels (tuples of a MultiIndex joined with ', ')."""
    return [", ".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in index]


def _fmt_window(window, units: str) -> str:
    return f"window {window[0]:g} to {window[1]:g} {units}".rstrip()


def trajectories_in_pcs(model, data, *, n_components: int = 3, window=None, lag: float = 0.0,
                        alignment: str | None = None, model_label: str = "model", data_label: str = "data",
                        title: str | None = None):
    """Model and data trajectories side by side in the data's top principal components.

    The model is first matched to the data as :func:`neurosim.compare` does (conditions by
    label, time by ``window`` and ``lag``), both are flattened to ``(condition × time, unit)``
    and centred, and the rotation-only Procrustes alignment is fitted on these arrays —
    the same fit whose angle is the ``"procrustes"`` distance. The model is mapped into the
    data's unit space through that rotation, scaled to the data's total variance (the
    angular distance ignores scale), and both are projected on the data's top principal
    components: ``Ŷ = Ỹ V_k``, ``X̂ = s · X̃ R V_k`` with ``R = R_x R_yᵀ`` the fitted
    rotation, ``s = ‖Ỹ‖_F / ‖X̃‖_F`` and ``V_k`` the data's first ``k`` right singular
    vectors. Identical geometry up to rotation and scale gives identical panels.

    Each line is one condition, drawn from a circle (the first time bin of the window) to
    a square (the last); reach directions (numeric conditions in degrees or radians, or a
    condition coordinate named "direction"/"angle") get a cyclic colour map with a
    colorbar, other labels a legend; both sit outside the panels.

    Parameters
    ----------
    model, data : xarray.DataArray (condition, time, unit[, trial])
        Trajectories; a ``trial`` dim is averaged. Unit counts may differ.
    n_components : {2, 3}
        Number of data PCs to draw (3: 3-D axes).
    window : (start, stop), optional
        Inclusive data-time range (data units, e.g. ms), as in :func:`neurosim.compare`.
    lag : float
        Model time ``t`` corresponds to data time ``t + lag``.
    alignment : str, optional
        How time was aligned, shown in the title (e.g. ``"0 ms = movement onset"``).
    model_label, data_label : str
        Panel names.
    title : str, optional
        Figure title (default: the labels, window and alignment).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (data, model after the fitted rotation); ``fig.neurosim`` holds the
        projected arrays (``"data"``, ``"model"``: (condition, time, k)), the distance and the
        explained-variance fractions.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> rng = np.random.default_rng(0)
    >>> d = trajectories(rng.normal(size=(4, 20, 6)), conditions=[0, 90, 180, 270], time=np.arange(20) * 10.0)
    >>> Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    >>> m = d.copy(data=2.0 * d.values @ Q)                    # a rotated, scaled copy
    >>> fig = trajectories_in_pcs(m, d, n_components=2)
    >>> bool(np.allclose(fig.neurosim["model"], fig.neurosim["data"]))
    True
    """
    plt = _pyplot()
    _check_components(n_components)
    fitted = _fit_into_data_pcs(_require_trajectories(model, "model"), _require_trajectories(data, "data"),
                                window, lag, n_components)
    al, proj, explained, dist = fitted["aligned"], fitted["proj"], fitted["explained"], fitted["distance"]
    labels, colors, cmap, norm, angles, key_title = _condition_style(al.data)
    units, t_units, t0, t1 = _axis_units(al.data)
    kw = {"projection": "3d"} if n_components == 3 else {}
    lim = _shared_limits(proj.values())
    if n_components == 3:
        fig = plt.figure(figsize=(11.0, 5.4))
    else:  # equal scales on both PCs: the figure's height follows the data's aspect
        height = float(np.clip(_aspect(lim) * 3.3, 1.6, 5.5)) + 2.0
        fig = plt.figure(figsize=(10.5, height))
    axes = [fig.add_subplot(1, 2, i + 1, **kw) for i in range(2)]
    longest = max(len(t) for t in [*_label_text(labels), *key_title.split("\n")])
    right = 1.0 - min(0.3, (0.9 + 0.06 * longest) / fig.get_figwidth()) if angles is None else 0.87
    H = fig.get_figheight()
    fig.subplots_adjust(left=0.01 if n_components == 3 else 0.08, right=right, bottom=0.85 / H, top=1 - 1.1 / H,
                        wspace=-0.05 if n_components == 3 else 0.25)
    panel_titles = {"data": f"{data_label}", "model": f"{model_label} after the fitted rotation\n"
                    f"(Procrustes distance {dist:.3f} of π/2)"}
    for ax, key in zip(axes, ("data", "model")):
        _draw_trajectories(ax, proj[key], colors, lim, units, explained)
        ax.set_title(panel_titles[key], fontsize=10)
    _condition_key(fig, _label_text(labels), colors, cmap, norm, angles, key_title, left=right)
    if title is None:
        title = (f"{model_label} vs {data_label} in the data's top {n_components} PCs · "
                 + _clock_text(t0, t1, t_units, lag, alignment))
    fig.suptitle(title, fontsize=11, y=0.98)
    fig.text(0.01, 0.015, _pcs_caption(t0, t1, t_units), fontsize=8, color="0.3")
    fig.neurosim = {**proj, "distance": dist, "explained_variance": explained,
                    "conditions": list(labels), "time": al.data["time"].values}
    return fig


def _check_components(n_components) -> None:
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3 (the PCs drawn); got {n_components!r}")


def _fit_into_data_pcs(model_da: xr.DataArray, data_da: xr.DataArray, window, lag: float, k: int) -> dict:
    """Align as compare() does, fit the Procrustes rotation, project both on the data's top k PCs."""
    al = prepare(model_da, data_da, window=window, lag=lag)
    n_cond, n_time = al.data.sizes["condition"], al.data.sizes["time"]
    if n_time < 2:
        raise ValueError(f"the window {window} leaves {n_time} time bin(s); a trajectory needs at least 2")
    if al.Y.shape[1] < k:
        raise ValueError(f"the data has {al.Y.shape[1]} unit(s); n_components={k} needs at least as many")
    fit = ShapeMetric(alpha=1.0, normalize=True).fit(al.X, al.Y)
    Xc, Yc = al.X - fit.mean_x_, al.Y - fit.mean_y_
    Xr = Xc @ fit.rotation_x_ @ fit.rotation_y_.T
    Xr *= np.linalg.norm(Yc) / np.linalg.norm(Xr)
    _, s, Vt = np.linalg.svd(Yc, full_matrices=False)
    V = Vt[:k].T
    return {"aligned": al, "distance": fit.distance_, "explained": s[:k] ** 2 / np.sum(s ** 2),
            "proj": {"data": (Yc @ V).reshape(n_cond, n_time, k), "model": (Xr @ V).reshape(n_cond, n_time, k)}}


def _condition_style(da: xr.DataArray):
    """Labels, colours (cyclic for reach directions), colour map and key title of ``da``'s conditions."""
    labels = condition_index(da)
    cond_attrs = dict(da["condition"].attrs)
    angles = _angles(labels.values if not isinstance(labels, pd.MultiIndex) else [], cond_attrs)
    if angles is None and "direction" in da.coords and da["direction"].dims == ("condition",):
        angles = _angles(da["direction"].values, dict(da["direction"].attrs), "direction")
    colors, cmap, norm = _condition_colors(labels, angles)
    key_title = str(cond_attrs.get("long_name", "condition"))
    if isinstance(labels, pd.MultiIndex) and all(labels.names):
        key_title = ",\n".join(map(str, labels.names))
    elif angles is None and labels.name and labels.name != "condition":
        key_title = str(labels.name)
    return labels, colors, cmap, norm, angles, key_title


def _axis_units(da: xr.DataArray):
    t = da["time"].values
    return str(da.attrs.get("units", "a.u.")), str(da["time"].attrs.get("units", "")), float(t[0]), float(t[-1])


def _clock_text(t0, t1, t_units, lag, alignment) -> str:
    return (_fmt_window((t0, t1), t_units) + (f", lag {lag:g} {t_units}".rstrip() if lag else "")
            + (f" ({alignment})" if alignment else ""))


def _pcs_caption(t0, t1, t_units) -> str:
    return (f"Axes: the data's principal components (% = share of the data's variance). "
            f"○ start of the window ({t0:g} {t_units}), □ end ({t1:g} {t_units}).\n"
            "Each model is rotated and scaled onto the data as the Procrustes metric fits it.")


def _shared_limits(arrays) -> list[tuple[float, float]]:
    """Per-PC (low, high) over every array (…, k), padded by 5 %: all panels share one view."""
    arrays = [np.asarray(p) for p in arrays]
    k = arrays[0].shape[-1]
    lims = []
    for j in range(k):
        lo = min(float(p[..., j].min()) for p in arrays)
        hi = max(float(p[..., j].max()) for p in arrays)
        pad = 0.05 * (hi - lo or 1.0)
        lims.append((lo - pad, hi + pad))
    return lims


def _aspect(lim) -> float:
    """Height / width of a 2-D view with equal scales on both axes."""
    return (lim[1][1] - lim[1][0]) / (lim[0][1] - lim[0][0])


def _draw_trajectories(ax, P: np.ndarray, colors, lim, units: str, explained, *, labels: bool = True) -> None:
    """One line per condition (circle = first bin, square = last) in the PCs, shared limits."""
    k = P.shape[2]
    for c in range(P.shape[0]):
        pts = [P[c, :, j] for j in range(k)]
        ax.plot(*pts, color=colors[c], lw=1.6)
        ax.scatter(*[p[:1] for p in pts], color=colors[c], marker="o", s=36, edgecolor="k", linewidth=0.6, zorder=4)
        ax.scatter(*[p[-1:] for p in pts], color=colors[c], marker="s", s=22, edgecolor="k", linewidth=0.6, zorder=4)
    setters = (ax.set_xlim, ax.set_ylim) + ((ax.set_zlim,) if k == 3 else ())
    label_setters = (ax.set_xlabel, ax.set_ylabel) + ((ax.set_zlabel,) if k == 3 else ())
    for j, (set_lim, set_label) in enumerate(zip(setters, label_setters)):
        set_lim(*lim[j])
        if labels:
            set_label(f"PC{j + 1} ({units}), {100 * explained[j]:.0f} %", fontsize=9)
    ax.tick_params(labelsize=8)
    if k == 2:
        ax.set_aspect("equal", adjustable="box")


def trajectories_grid(models: dict, data, *, n_components: int = 2, window=None, lag: float = 0.0,
                      alignment: str | None = None, data_label: str = "data", title: str | None = None):
    """Several models next to the data, each after its own fitted rotation, in the data's top PCs.

    The same projection as :func:`trajectories_in_pcs`, for a table of models: ``models`` maps
    ``(row, column)`` labels — e.g. ``("at initialisation", "bptt")`` — to trajectories, and each
    model gets one panel in that row and column; the data open every row (first column). Every panel uses the same axes (the data's PCs, same limits), so panels can be compared
    directly; each model panel's title gives its Procrustes distance (of π/2).

    Parameters
    ----------
    models : dict
        ``(row label, column label) -> DataArray (condition, time, unit)``; rows and columns are
        drawn in first-seen order. A plain label (not a tuple) means a single row.
    data : xarray.DataArray (condition, time, unit[, trial])
    n_components : {2, 3}
    window, lag, alignment, data_label, title
        As :func:`trajectories_in_pcs`.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.neurosim["distances"]`` maps each key to its distance.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> rng = np.random.default_rng(0)
    >>> d = trajectories(rng.normal(size=(4, 20, 6)), conditions=[0, 90, 180, 270], time=np.arange(20) * 10.0)
    >>> m = d.copy(data=d.values @ np.linalg.qr(rng.normal(size=(6, 6)))[0])
    >>> fig = trajectories_grid({("trained", "a"): m, ("trained", "b"): d}, d)
    >>> [round(v, 6) for v in fig.neurosim["distances"].values()]
    [0.0, 0.0]
    """
    plt = _pyplot()
    _check_components(n_components)
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict (row, column) -> DataArray (condition, time, unit)")
    keys = [k if isinstance(k, tuple) and len(k) == 2 else ("", k) for k in models]
    data_da = _require_trajectories(data, "data")
    fits = {key: _fit_into_data_pcs(_require_trajectories(m, f"models[{orig!r}]"), data_da, window, lag, n_components)
            for key, orig, m in zip(keys, models, models.values())}
    first = next(iter(fits.values()))
    al, explained = first["aligned"], first["explained"]
    labels, colors, cmap, norm, angles, key_title = _condition_style(al.data)
    units, t_units, t0, t1 = _axis_units(al.data)
    rows = list(dict.fromkeys(k[0] for k in keys))
    cols = list(dict.fromkeys(k[1] for k in keys))
    lim = _shared_limits([first["proj"]["data"]] + [f["proj"]["model"] for f in fits.values()])
    # sizes in inches: panels `panel_w` wide, rows as tall as the data's aspect needs (equal scales)
    panel_w, gap_w, gap_h, n_panels = 2.9, 0.3, 1.05, len(cols) + 1
    row_h = panel_w if n_components == 3 else float(np.clip(_aspect(lim) * panel_w, 1.2, 1.6 * panel_w))
    longest = max(len(t) for t in [*_label_text(labels), *key_title.split("\n")])
    key_w = 1.3 if angles is not None else min(3.2, 0.9 + 0.06 * longest)
    W = (panel_w * (n_panels + gap_w * (n_panels - 1)) + key_w) / 0.94
    H = row_h * len(rows) + gap_h * (len(rows) - 1) + 0.85 + 0.8
    fig = plt.figure(figsize=(W, H))
    right = 1.0 - key_w / W
    gs = fig.add_gridspec(len(rows), n_panels, left=0.06, right=right, bottom=0.85 / H, top=1 - 0.8 / H,
                          wspace=gap_w, hspace=gap_h / row_h)
    kw = {"projection": "3d"} if n_components == 3 else {}
    for r in range(len(rows)):  # the data open every row, as its reference
        ax_d = fig.add_subplot(gs[r, 0], **kw)
        _draw_trajectories(ax_d, first["proj"]["data"], colors, lim, units, explained)
        ax_d.set_title(data_label, fontsize=9)
    for (row, col), f in fits.items():
        ax = fig.add_subplot(gs[rows.index(row), cols.index(col) + 1], **kw)
        _draw_trajectories(ax, f["proj"]["model"], colors, lim, units, explained)
        ax.set_title(f"{col}\n{row + ': ' if row else ''}distance {f['distance']:.3f}", fontsize=9)
    _condition_key(fig, _label_text(labels), colors, cmap, norm, angles, key_title, left=right)
    fig.suptitle(title or f"Models vs {data_label} in the data's top {n_components} PCs · "
                 + _clock_text(t0, t1, t_units, lag, alignment), fontsize=11)
    fig.text(0.01, 0.015, _pcs_caption(t0, t1, t_units), fontsize=8, color="0.3")
    fig.neurosim = {"distances": {orig: f["distance"] for orig, f in zip(models, fits.values())},
                    "explained_variance": explained}
    return fig


def _square_rdm(rdm, labels):
    """``(K, K)`` symmetric matrix and K labels from a condensed vector, square array or DataArray."""
    if isinstance(rdm, xr.DataArray):
        if rdm.ndim != 2:
            raise ValueError(f"rdm must be a 2-D DataArray (K, K); got dims {tuple(rdm.dims)}")
        if labels is None:
            labels = _label_text(rdm.indexes[rdm.dims[0]]) if rdm.dims[0] in rdm.indexes else None
        M = np.asarray(rdm.values, dtype=float)
    else:
        M = np.asarray(rdm, dtype=float)
        if M.ndim == 1:
            K = int(round((1 + np.sqrt(1 + 8 * M.size)) / 2))
            if K * (K - 1) // 2 != M.size or K < 2:
                raise ValueError(f"a condensed rdm needs K(K-1)/2 entries; {M.size} is no such number")
            M = squareform(M, checks=False)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"rdm must be a condensed vector or a square (K, K) matrix; got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("rdm contains NaN or infinite entries")
    if not np.allclose(M, M.T, rtol=1e-8, atol=1e-10 * max(1.0, float(np.abs(M).max()))):
        raise ValueError("rdm is square but not symmetric; pass a dissimilarity matrix (M[i, j] == M[j, i])")
    K = M.shape[0]
    labels = [str(i) for i in range(K)] if labels is None else [str(lab) for lab in labels]
    if len(labels) != K:
        raise ValueError(f"labels has {len(labels)} entries for an rdm of {K} conditions")
    return M, labels


def condition_rdm(data, *, method: str = "correlation", window=None) -> xr.DataArray:
    """The (condition, condition) RDM of trajectories: each condition's pattern is its whole
    (time × unit) response in ``window``.

    Parameters
    ----------
    data : xarray.DataArray (condition, time, unit[, trial])
    method : str
        Any :func:`neurosim.metrics.rdm` method except ``"crossnobis"`` (e.g. ``"correlation"``:
        ``1 − r``, ``"euclidean"``: in the data's units).
    window : (start, stop), optional
        Inclusive time range.

    Returns
    -------
    xarray.DataArray (condition, condition_b)
        Square, symmetric, zero diagonal; ``attrs["method"]`` and ``attrs["units"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> d = trajectories(np.random.default_rng(0).normal(size=(4, 5, 3)), conditions=list("abcd"), time=np.arange(5.0))
    >>> R = condition_rdm(d); R.dims, R.shape, float(R[0, 0])
    (('condition', 'condition_b'), (4, 4), 0.0)
    """
    da = _require_trajectories(data, "data")
    if window is not None:
        da = prepare(da, da, window=window).data
    X = da.transpose("condition", "time", "unit").values.reshape(da.sizes["condition"], -1)
    M = squareform(rdm_vector(X, method=method), checks=False)
    index = condition_index(da)
    labels = _label_text(index)
    angles = None if isinstance(index, pd.MultiIndex) else _angles(index.values, dict(da["condition"].attrs))
    u = str(da.attrs.get("units", "a.u."))
    units = {"euclidean": u, "sqeuclidean": f"({u})²", "correlation": "1 − r", "cosine": "1 − cos"}
    cattrs = da["condition"].attrs
    cname = str(cattrs.get("long_name", "condition")) + (f" ({cattrs['units']})" if cattrs.get("units") else "")
    return xr.DataArray(M, dims=("condition", "condition_b"), coords={"condition": labels, "condition_b": labels},
                        attrs={"method": method, "units": units.get(method, ""), "condition_name": cname,
                               "condition_angles": None if angles is None else angles.tolist()})


def rdm_heatmap(rdm, labels=None, *, method: str | None = None, units: str | None = None, title: str | None = None,
                cmap: str = "viridis"):
    """Heat map of a representational dissimilarity matrix with condition labels and a colorbar.

    Read it row by row: entry (i, j) is the dissimilarity between conditions i and j (0 on the
    diagonal; brighter = more different with the default colour map). Blocks of dark
    entries are groups of conditions the representation does not tell apart.

    Parameters
    ----------
    rdm : array_like or xarray.DataArray
        Condensed vector (scipy order, as :func:`neurosim.metrics.rdm` returns) or a square,
        symmetric (K, K) matrix; a DataArray (e.g. from :func:`condition_rdm`) brings its labels,
        method and units.
    labels : sequence, optional
        K condition labels (default: the DataArray's coordinate, else 0…K−1).
    method : str, optional
        Dissimilarity named on the colorbar (e.g. ``"correlation"``).
    units : str, optional
        Unit of the entries (e.g. ``"1 − r"``, ``"spikes/s"``).
    title : str, optional
    cmap : str
        Matplotlib colour map.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import rdm
    >>> X = np.random.default_rng(0).normal(size=(5, 10))
    >>> fig = rdm_heatmap(rdm(X, method="correlation"), labels=list("abcde"), method="correlation")
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['a', 'b', 'c', 'd', 'e']
    """
    plt = _pyplot()
    if isinstance(rdm, xr.DataArray):
        method = rdm.attrs.get("method") if method is None else method
        units = rdm.attrs.get("units") if units is None else units
    cname = rdm.attrs.get("condition_name", "condition") if isinstance(rdm, xr.DataArray) else "condition"
    M, labels = _square_rdm(rdm, labels)
    K = M.shape[0]
    side = float(np.clip(0.32 * K + 2.2, 4.0, 9.0))
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(M, cmap=cmap, vmin=min(0.0, float(M.min())), interpolation="nearest")
    step = max(1, int(np.ceil(K / 40)))  # at most 40 tick labels, each ≥ 8 pt
    ticks = np.arange(0, K, step)
    longest = max(len(lab) for lab in labels)
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90 if longest > 3 else 0, fontsize=8)
    ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=8)
    ax.set_xlabel(cname, fontsize=9)
    ax.set_ylabel(cname, fontsize=9)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    what = f"{method} dissimilarity" if method else "dissimilarity"
    cb.set_label(f"{what} ({units})" if units else what, fontsize=9)
    cb.ax.tick_params(labelsize=8)
    ax.set_title(title or f"RDM of {K} conditions", fontsize=10)
    fig.tight_layout()
    return fig


def _classical_mds(M: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Torgerson MDS: coordinates from the top eigenvectors of ``B = −½ J D² J``."""
    K = M.shape[0]
    J = np.eye(K) - 1.0 / K
    B = -0.5 * J @ (M ** 2) @ J
    w, U = np.linalg.eigh(B)
    w, U = w[::-1], U[:, ::-1]
    pos = np.clip(w[:k], 0.0, None)
    share = pos / np.sum(np.clip(w, 0.0, None)) if np.any(w > 0) else np.zeros(k)
    return U[:, :k] * np.sqrt(pos), share


def _smacof(M: np.ndarray, X: np.ndarray, *, max_iter: int = 3000, tol: float = 1e-12) -> np.ndarray:
    """Metric MDS by SMACOF (de Leeuw 1977): Guttman transforms ``X ← B(X) X / K`` from ``X``,
    which never increase the raw stress ``Σ_{i<j} (‖x_i − x_j‖ − M_ij)²``."""
    K = M.shape[0]
    prev = np.inf
    for _ in range(max_iter):
        D = squareform(pdist(X))
        with np.errstate(divide="ignore", invalid="ignore"):
            B = np.where(D > 0, -M / D, 0.0)
        np.fill_diagonal(B, 0.0)
        np.fill_diagonal(B, -B.sum(axis=1))
        X = B @ X / K
        stress = float(np.sum((pdist(X) - squareform(M, checks=False)) ** 2))
        if prev - stress <= tol * max(prev, 1e-300):
            break
        prev = stress
    return X


def mds_conditions(rdm_or_data, labels=None, *, method: str = "correlation", metric: bool = False,
                   window=None, title: str | None = None):
    """Conditions as points in 2-D, placed so that their distances reproduce the RDM.

    Classical (Torgerson) MDS by default: the top two eigenvectors of the double-centred
    squared dissimilarities ``B = −½ J D² J`` (exact for Euclidean distances; the title gives the
    share of ``B``'s positive spectrum the two axes keep). ``metric=True`` runs metric MDS
    (SMACOF, de Leeuw 1977) from the classical solution, minimising the raw stress
    ``Σ_{i<j} (‖x_i − x_j‖ − D_ij)²``, and reports the normalized stress
    ``sqrt(Σ (‖x_i − x_j‖ − D_ij)² / Σ D_ij²)``.
    Distances between points, not the axes, carry meaning.

    Parameters
    ----------
    rdm_or_data : array_like, xarray.DataArray
        An RDM as for :func:`rdm_heatmap`, or trajectories (condition, time, unit), whose RDM is
        computed with :func:`condition_rdm` (``method``, ``window``).
    labels : sequence, optional
        Condition labels (default: from the DataArray).
    method : str
        RDM method when trajectories are given.
    metric : bool
        Metric MDS (SMACOF, deterministic) instead of classical MDS.
    window : (start, stop), optional
        Time range when trajectories are given.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.neurosim["coords"]`` holds the (K, 2) coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist
    >>> P = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1]])
    >>> fig = mds_conditions(pdist(P), labels=list("abcd"))
    >>> bool(np.allclose(pdist(fig.neurosim["coords"]), pdist(P)))
    True
    """
    plt = _pyplot()
    angle_source = None
    if isinstance(rdm_or_data, (xr.DataArray, xr.Dataset)) and "time" in rdm_or_data.dims:
        da = _require_trajectories(rdm_or_data, "data")
        angle_source = da
        rdm = condition_rdm(da, method=method, window=window)
    else:
        rdm = rdm_or_data
    rdm_method = rdm.attrs.get("method") if isinstance(rdm, xr.DataArray) else None
    units = rdm.attrs.get("units") if isinstance(rdm, xr.DataArray) else None
    M, labels = _square_rdm(rdm, labels)
    K = M.shape[0]
    if K < 3:
        raise ValueError(f"MDS of conditions needs at least 3 conditions; got {K}")
    coords, share = _classical_mds(M, 2)
    if metric:
        coords = _smacof(M, coords)
        fitted = squareform(pdist(coords), checks=False)
        stress = float(np.sqrt(np.sum((fitted - M) ** 2) / np.sum(M ** 2)))
        how = f"metric MDS (SMACOF), normalized stress {stress:.3f}"
    else:
        how = f"classical MDS, {100 * share.sum():.0f} % of the positive spectrum"
    angles = None
    if angle_source is not None:
        angles = _angles(condition_index(angle_source).values, dict(angle_source["condition"].attrs))
    elif isinstance(rdm, xr.DataArray) and rdm.attrs.get("condition_angles") is not None:
        angles = np.asarray(rdm.attrs["condition_angles"], dtype=float)
    colors, cmap, norm = _condition_colors(labels, angles)
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    ax.scatter(coords[:, 0], coords[:, 1], c=colors, s=60, edgecolor="k", linewidth=0.6, zorder=3)
    span = float(np.ptp(coords, axis=0).max()) or 1.0
    for (x, y), lab in zip(coords, labels):
        ax.annotate(lab, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8)
    lo, hi = coords.min(axis=0) - 0.12 * span, coords.max(axis=0) + 0.12 * span
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    unit_txt = f" ({units})" if units else ""
    ax.set_xlabel(f"MDS 1{unit_txt}", fontsize=9)
    ax.set_ylabel(f"MDS 2{unit_txt}", fontsize=9)
    ax.tick_params(labelsize=8)
    what = f"{rdm_method} RDM" if rdm_method else "RDM"
    ax.set_title(f"{title or f'Conditions by {what}'}\n{how}", fontsize=10)
    fig.tight_layout()
    fig.neurosim = {"coords": coords, "labels": labels, "explained": share}
    return fig


def _reference_range(label: str, ref) -> tuple[float, float]:
    """The (low, high) a reference occupies: a number, (mean, sd) or (value, low, high)."""
    if isinstance(ref, (tuple, list, np.ndarray)):
        if len(ref) == 2:
            return float(ref[0]) - float(ref[1]), float(ref[0]) + float(ref[1])
        if len(ref) == 3:
            return float(ref[1]), float(ref[2])
        raise ValueError(f"baselines[{label!r}] must be a number, (mean, sd) or (value, low, high); got {ref!r}")
    return float(ref), float(ref)


def _reference(ax, label: str, ref) -> None:
    """One labelled horizontal reference: a number (dashed line), (mean, sd) (line and ±1 SD band)
    or (value, low, high) (line and the band low–high, e.g. 95 % of split-half draws)."""
    lo, hi = _reference_range(label, ref)
    if isinstance(ref, (tuple, list, np.ndarray)):
        v = float(ref[0])
        ax.axhspan(lo, hi, color="0.85", zorder=0, lw=0)
        band = f"± {float(ref[1]):.3f}\n(band: ±1 SD)" if len(ref) == 2 else f"\n(band: {lo:.3f} to {hi:.3f})"
        ax.axhline(v, color="0.35", lw=1.4, zorder=1, label=f"{label}: {v:.3f} {band}")
    else:
        v = float(ref)
        ax.axhline(v, color="k", ls="--", lw=1.4, zorder=1, label=f"{label}: {v:.3f}")


def distance_vs_accuracy(table: pd.DataFrame, *, hue: str = "rule", style: str | None = None, col: str | None = None,
                         units: str | None = None, baselines: dict | None = None, levels=None,
                         matched: pd.DataFrame | None = None, x: str = "accuracy", y: str = "distance",
                         xlabel: str = "task accuracy (1 − normalized MSE)",
                         ylabel: str = "Procrustes distance (angle / (π/2))", title: str | None = None):
    """Distance to the data against task accuracy along training, one line per run.

    Read it from left (untrained, low accuracy) to right: a line that falls means training made
    the network's geometry closer to the data's. The reference lines say what "close" means:
    a condition-blind model (condition-average baseline) and the data against itself
    (split-half ceiling, with its spread). The x-axis spans every checkpoint, including
    negative accuracies (an untrained network's error can exceed the target's variance).

    Parameters
    ----------
    table : DataFrame
        Tidy: one row per run and checkpoint with columns ``hue``, ``step``, ``x``, ``y`` and
        the run identifier ``units`` (default ``"run"`` if present, else ``"seed"``).
    hue : str
        Column coloured by (e.g. ``"rule"``).
    style : str, optional
        Column shown as line style (e.g. the initial gain ``"g0"``).
    col : str, optional
        Column split into panels (shared axes).
    units : str, optional
        Column naming the run a row belongs to (one line per value within each ``hue``).
    baselines : dict, optional
        Label -> number (dashed line), ``(mean, sd)`` (line and ±1 SD band) or
        ``(value, low, high)`` (line and the band low–high), e.g.
        ``{"condition average": 0.484, "split-half ceiling": (0.403, 0.024)}``.
    levels : sequence of float, optional
        Accuracy levels drawn as dotted vertical lines (e.g. matched accuracies), each labelled
        with its value on top when the labels fit side by side (≥ 0.3 inch apart), else listed
        in the legend.
    matched : DataFrame, optional
        Points to mark (columns ``x``, ``y``, and ``hue``/``col`` when used), e.g. matched
        checkpoints.
    x, y : str
        Column names of accuracy and distance.
    xlabel, ylabel, title : str
        Axis labels (with units) and figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rule": ["bptt"] * 3 + ["eprop"] * 3, "seed": 0, "step": [0, 10, 100] * 2,
    ...                   "accuracy": [-0.5, 0.5, 0.9, -0.8, 0.3, 0.9], "distance": [0.6, 0.5, 0.45, 0.6, 0.55, 0.5]})
    >>> fig = distance_vs_accuracy(t, baselines={"condition average": 0.48, "split-half ceiling": (0.40, 0.02)})
    >>> bool(fig.axes[0].get_xlim()[0] < -0.8)
    True
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D  # optional dependency

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (one row per run and checkpoint); got {type(table).__name__}")
    if units is None:
        units = "run" if "run" in table.columns else "seed"
    need = [c for c in (hue, units, "step", x, y, style, col) if c is not None]
    missing = [c for c in dict.fromkeys(need) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; it has {list(table.columns)} "
                         f"(needed: {list(dict.fromkeys(need))})")
    if table.empty:
        raise ValueError("table has no rows")
    baselines = dict(baselines or {})
    for label, ref in baselines.items():
        _reference_range(label, ref)
    if matched is not None:
        mneed = [c for c in (x, y, hue if hue in matched.columns else None, col) if c is not None]
        mmiss = [c for c in mneed if c not in matched.columns]
        if mmiss:
            raise ValueError(f"matched lacks the column(s) {mmiss}; it has {list(matched.columns)}")
    hues = order_rules(table[hue].astype(str).unique()) if hue == "rule" else sorted(table[hue].astype(str).unique())
    palette = {h: RULE_COLORS.get(h, f"C{i % 10}") for i, h in enumerate(hues)}
    styles = {}
    if style is not None:
        styles = dict(zip(sorted(table[style].unique()), ["-", "--", ":", "-."] * 8))
    panels = [None] if col is None else (order_rules(table[col].astype(str).unique()) if col == "rule"
                                         else sorted(table[col].astype(str).unique()))
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n + 3.0, 4.2), sharex=True, sharey=True, squeeze=False)
    axes = axes[0]
    xs, ys = [table[x].to_numpy(float)], [table[y].to_numpy(float)]
    for ax, panel in zip(axes, panels):
        sub = table if panel is None else table[table[col].astype(str) == panel]
        for label, ref in baselines.items():
            _reference(ax, label, ref)
        for keys, g in sub.groupby([hue, units] + ([style] if style else []), sort=False):
            g = g.sort_values("step")
            ls = styles[keys[2]] if style else "-"
            ax.plot(g[x], g[y], ls, color=palette[str(keys[0])], lw=1.2, alpha=0.75, marker="o", ms=2.2, zorder=2)
        if matched is not None:
            m = matched if panel is None else matched[matched[col].astype(str) == panel]
            ax.scatter(m[x], m[y], s=22, color="k", zorder=4)
            xs.append(m[x].to_numpy(float))
            ys.append(m[y].to_numpy(float))
        ax.set_xlabel(xlabel, fontsize=9)
        ax.tick_params(labelsize=8)
        if panel is not None:
            ax.set_title(f"{col} = {panel}" if col != "rule" else panel, fontsize=10)
    axes[0].set_ylabel(ylabel, fontsize=9)
    # limits from the data and the references: nothing clipped, negative accuracies included
    xa, ya = np.concatenate(xs), np.concatenate(ys)
    xa, ya = xa[np.isfinite(xa)], ya[np.isfinite(ya)]
    refs = [v for label, ref in baselines.items() for v in _reference_range(label, ref)]
    lv = [float(v) for v in (levels or [])]
    x_lo, x_hi = min(xa.min(), *lv) if lv else xa.min(), max(xa.max(), *lv) if lv else xa.max()
    y_lo, y_hi = min(ya.min(), *refs) if refs else ya.min(), max(ya.max(), *refs) if refs else ya.max()
    xpad, ypad = 0.04 * (x_hi - x_lo or 1.0), 0.06 * (y_hi - y_lo or 1.0)
    axes[0].set_xlim(x_lo - xpad, x_hi + xpad)
    axes[0].set_ylim(y_lo - ypad, y_hi + 2.5 * ypad)
    # each level line carries its value on top when the values fit side by side (else the legend lists them)
    width_in = axes[0].get_position().width * fig.get_figwidth()
    gaps = np.diff(sorted(lv)) / (x_hi - x_lo + 2 * xpad) * width_in if len(lv) > 1 else np.array([np.inf])
    label_levels = bool(lv) and float(gaps.min()) > 0.3
    for ax in axes:
        for v in lv:
            ax.axvline(v, color="0.5", lw=0.8, ls=":", zorder=1)
            if label_levels:
                ax.text(v, 1.0, f"{v:g}", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                        fontsize=8, color="0.35")
    handles, labs = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color=palette[h], lw=2) for h in hues]
    labs += [f"{hue} = {h}" if hue != "rule" else h for h in hues]
    if style and len(styles) > 1:  # one value: every line is solid, nothing to tell apart
        handles += [Line2D([], [], color="0.6", lw=1.2, ls=s) for s in styles.values()]
        labs += [f"line style: {style} = {v:g}" if isinstance(v, (int, float, np.number))
                 else f"line style: {style} = {v}" for v in styles]
    if matched is not None:
        handles.append(Line2D([], [], marker="o", color="k", ls="none", ms=4))
        labs.append("matched checkpoints")
    if lv:
        handles.append(Line2D([], [], color="0.5", lw=0.8, ls=":"))
        labs.append("accuracy " + ", ".join(f"{v:g}" for v in lv))
    # the legend gets its own margin right of the panels
    longest = max(len(line) for t in labs for line in t.split("\n"))
    margin = min(0.45, (0.5 + 0.058 * longest) / fig.get_figwidth())
    fig.legend(handles, labs, loc="center left", bbox_to_anchor=(1.0 - margin, 0.5), fontsize=8, frameon=False)
    fig.suptitle(title or "Distance to the data along training (one line per run, dots = checkpoints)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1.0 - margin, 1))
    return fig


def plot_lag_sweep(table: pd.DataFrame, baselines: dict | None = None, *, marks: dict | None = None):
    """Figure: distance to the data against the clock lag, per rule, at initialization and matched accuracy.

    Parameters
    ----------
    table : DataFrame
        One row per run, stage and lag: ``rule``, ``stage`` (``"init"`` / ``"matched"``),
        ``lag`` (ms; model time ``t`` <-> data time ``t + lag``), ``distance``, optionally ``level``.
    baselines : dict, optional
        ``ceiling``, ``ceiling_ci_low``, ``ceiling_ci_high``, ``condition_average`` (labelled
        horizontal lines).
    marks : dict, optional
        ``{label: lag}`` drawn as labelled vertical lines (e.g. the named alignments).

    Returns
    -------
    matplotlib.figure.Figure
        Mean over runs (line) and the range over runs (band) per rule; the best lag of each
        mean curve is marked with a triangle.
    """
    plt = _pyplot()
    rules = order_rules(table["rule"].unique())
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    if baselines:
        reference_lines(ax, baselines)
    styles = {"init": ("--", "initialization"), "matched": ("-", "matched accuracy")}
    for rule in rules:
        color = RULE_COLORS.get(rule, "C2")
        for stage, (ls, name) in styles.items():
            g = table[(table["rule"] == rule) & (table["stage"] == stage)]
            if not len(g):
                continue
            agg = g.groupby("lag")["distance"].agg(["mean", "min", "max"])
            lvl = g["level"].dropna()
            extra = f" {lvl.iloc[0]:g}" if stage == "matched" and len(lvl) else ""
            ax.plot(agg.index, agg["mean"], ls, color=color, lw=1.5, label=f"{rule}, {name}{extra}")
            ax.fill_between(agg.index, agg["min"], agg["max"], color=color, alpha=0.08, lw=0)
            best = agg["mean"].idxmin()
            ax.plot([best], [agg["mean"].min()], "v", color=color, ms=6)
    for k, (label, lag) in enumerate((marks or {}).items()):
        ax.axvline(lag, color="0.3", lw=0.8, ls=":")
        ax.annotate(label, (lag, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12 - 10 * k),
                    textcoords="offset points", fontsize=8, color="0.3")
    ax.set_xlabel("lag (ms): model time t ↔ data time t + lag (0 = the task's movement onset)")
    ax.set_ylabel("Procrustes distance to M1")
    ax.set_title("Where does each model align best? (▼ = minimum of the mean curve)", fontsize=10)
    # the legend sits below the axes, off the curves and the ceiling band
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def plot_similar_dynamics(networks: pd.DataFrame, pairs: pd.DataFrame, *, group_order=None, title: str | None = None):
    """Figure: DSA of each network to the data by rule, and model-model DSA by pair group.

    Parameters
    ----------
    networks : DataFrame
        One row per network with ``rule``, ``g0`` and ``dsa_to_data`` (radians), e.g. the
        ``networks`` table of :func:`neurosim.experiments.similar_dynamics.similar_dynamics`.
    pairs : DataFrame
        One row per network pair with ``group`` and ``dsa`` (radians).
    group_order : sequence of str, optional
        Order of the pair groups (default: order of first appearance).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> nets = pd.DataFrame({"rule": ["bptt", "eprop"], "g0": [1.0, 1.0], "dsa_to_data": [0.5, 0.6]})
    >>> pairs = pd.DataFrame({"group": ["other rule, same init"], "dsa": [0.2]})
    >>> fig = plot_similar_dynamics(nets, pairs)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['DSA distance to M1 (radians)', 'DSA distance between networks (radians)']
    """
    for name, table, cols in (("networks", networks, ("rule", "dsa_to_data")), ("pairs", pairs, ("group", "dsa"))):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(f"{name} lacks the column(s) {missing}; it has {list(table.columns)}")
    plt = _pyplot()
    rules = order_rules(networks["rule"].unique())
    groups = [g for g in (group_order or dict.fromkeys(pairs["group"])) if (pairs["group"] == g).any()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.9 + 0.55 * max(len(rules), len(groups), 3)),
                                   gridspec_kw={"width_ratios": [1, 1.25]})
    jitter = np.random.default_rng(0)
    for k, rule in enumerate(rules):
        d = networks.loc[networks["rule"] == rule, "dsa_to_data"].to_numpy(float)
        ax1.scatter(d, k + jitter.uniform(-0.15, 0.15, d.size), s=22, color=RULE_COLORS.get(rule, "C2"), zorder=3)
        ax1.plot([d.mean()] * 2, [k - 0.3, k + 0.3], color="k", lw=2, zorder=4)
    ax1.set_yticks(range(len(rules)), rules)
    ax1.set_ylim(len(rules) - 0.5, -0.5)
    ax1.set_xlabel("DSA distance to M1 (radians)")
    ax1.set_title("each network vs the recordings\n(dots: networks; bar: mean)", fontsize=10)
    for k, group in enumerate(groups):
        d = pairs.loc[pairs["group"] == group, "dsa"].to_numpy(float)
        ax2.scatter(d, k + jitter.uniform(-0.15, 0.15, d.size), s=12, alpha=0.6, color="C0", zorder=3)
        ax2.plot([d.mean()] * 2, [k - 0.3, k + 0.3], color="k", lw=2, zorder=4)
    ax2.set_yticks(range(len(groups)), [f"{g} (n={int((pairs['group'] == g).sum())})" for g in groups], fontsize=9)
    ax2.set_ylim(len(groups) - 0.5, -0.5)
    ax2.set_xlabel("DSA distance between networks (radians)")
    ax2.set_title("pairs of networks, by shared rule and initialization", fontsize=10)
    for ax in (ax1, ax2):
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(0.0, lo), hi + 0.03 * (hi - min(0.0, lo)))
        ax.grid(axis="x", color="0.9", zorder=0)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def reliability_vs_trials(table: pd.DataFrame, *, title: str | None = None):
    """Figure: how reliable the data's trial averages are as trials are added.

    x: trials per condition (log scale). y: reliability (unitless; 1 = noise-free). Lines: the
    median per-unit Spearman–Brown-corrected split-half reliability with its quartile band, the
    true median unit reliability when known (simulated data, dashed), the population
    reliability ``ρ`` of the table's metric and the model ceiling ``√ρ`` (what a noise-free
    model can score). The legend sits right of the axes, off the data.

    Parameters
    ----------
    table : DataFrame
        From :func:`neurosim.baselines.reliability_curve`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n_trials": [2, 4, 8], "unit_median": [0.3, 0.5, 0.7], "unit_q25": [0.2, 0.4, 0.6],
    ...                   "unit_q75": [0.4, 0.6, 0.8], "population": [0.6, 0.8, 0.9],
    ...                   "model_ceiling": [0.77, 0.89, 0.95]})
    >>> fig = reliability_vs_trials(t)
    >>> fig.axes[0].get_xlabel()
    'trials per condition (log scale)'
    """
    plt = _pyplot()
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be the DataFrame of baselines.reliability_curve; got {type(table).__name__}")
    need = ["n_trials", "unit_median", "unit_q25", "unit_q75", "population", "model_ceiling"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; it has {list(table.columns)} "
                         "(make it with neurosim.baselines.reliability_curve)")
    if table.empty:
        raise ValueError("table has no rows")
    t = table.sort_values("n_trials")
    n = t["n_trials"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.6, 4.0))
    ax.fill_between(n, t["unit_q25"], t["unit_q75"], color="C0", alpha=0.2, lw=0, label="units: quartiles")
    ax.plot(n, t["unit_median"], "o-", color="C0", lw=1.6, ms=4, label="units: median (split-half, Spearman–Brown)")
    if "unit_true_median" in t.columns:
        ax.plot(n, t["unit_true_median"], "--", color="C0", lw=1.2, label="units: true median (simulation)")
    metric = table.attrs.get("metric", "metric")
    ax.plot(n, t["population"], "s-", color="C3", lw=1.6, ms=4, label=f"population ρ ({metric})")
    ax.plot(n, t["model_ceiling"], "^-", color="C2", lw=1.6, ms=4, label="model ceiling √ρ")
    ax.set_xscale("log", base=2)
    ax.set_xticks(n)
    ax.set_xticklabels([f"{v:g}" for v in n])
    cols = ["unit_q25", "unit_q75", "unit_median", "population", "model_ceiling"]
    cols += ["unit_true_median"] if "unit_true_median" in t.columns else []
    vals = t[cols].to_numpy(float)
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = 0.06 * (hi - lo or 1.0)
    ax.set_ylim(min(lo - pad, 0.0), max(hi + pad, 1.02))
    ax.set_xlim(n.min() / 1.25, n.max() * 1.25)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":", zorder=1)
    ax.set_xlabel("trials per condition (log scale)", fontsize=9)
    ax.set_ylabel("reliability of the trial average (unitless, 1 = noise-free)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    ax.set_title(title or "Reliability against trials per condition", fontsize=10)
    fig.tight_layout()
    return fig
