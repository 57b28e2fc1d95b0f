"""Figures a user can call: each function draws one figure and returns it (or writes a PNG).

matplotlib is an optional dependency (``pip install "neurosim[plots]"``) and is imported only
here, inside the functions, so ``import neurosim`` never needs it. Files are written atomically
(:func:`save_figure`). This module imports nothing of neurosim above the alignment layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurosim.io import atomic_path

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
RULE_ORDER = ("bptt", "tbptt", "eprop", "eprop-random")
RULE_COLORS = {"bptt": "#1f77b4", "tbptt": "#9467bd", "eprop": "#d62728", "eprop-random": "#ff7f0e"}


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


def plot_distance_along_training(training: pd.DataFrame, matched: pd.DataFrame, baselines: dict, levels, *,
                                 title: str | None = None):
    """Figure: distance to the data against task accuracy along training, one panel per rule.

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
        Figure title (e.g. the clock alignment the distances were computed under).

    Every checkpoint is drawn from initialization on, accuracies below 0 included (a circle
    marks step 0).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D  # optional dependency

    rules = order_rules(training["rule"].unique())
    xmin = min(0.0, float(training["accuracy"].min())) - 0.05
    gains = sorted(training["g0"].unique())
    gain_styles = dict(zip(gains, ["-", "--", ":", "-."] * 4))
    ymax = max(training["distance"].max(), baselines["condition_average"]) + 0.03
    ymin = min(training["distance"].min(), baselines["ceiling_ci_low"]) - 0.03
    fig, axes = plt.subplots(1, len(rules), figsize=(4.2 * len(rules), 3.8), sharey=True, squeeze=False)
    for ax, rule in zip(axes[0], rules):
        reference_lines(ax, baselines)
        for (name, g0), g in training[training["rule"] == rule].groupby(["run", "g0"], sort=False):
            g = g.sort_values("step")
            ax.plot(g["accuracy"], g["distance"], gain_styles[g0], color=RULE_COLORS.get(rule, "C2"),
                    alpha=0.6, lw=1.2)
            ax.plot(g["accuracy"].iloc[:1], g["distance"].iloc[:1], "o", mfc="none",
                    color=RULE_COLORS.get(rule, "C2"), ms=5)
        m = matched[(matched["rule"] == rule) & matched["reached"]]
        ax.scatter(m["accuracy"], m["distance"], s=18, color="k", zorder=3)
        for lv in levels:
            ax.axvline(lv, color="0.6", lw=0.6, ls=":")
        ax.set_title(rule)
        ax.set_xlabel("task accuracy (1 − normalized error)")
        ax.set_xlim(xmin, 1.02)
        ax.set_ylim(ymin, ymax)
    axes[0, 0].set_ylabel("Procrustes distance to M1 (angular / (π/2))")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.4", ls=gain_styles[g]) for g in gains]
    labels += [f"g0 = {g:g}" for g in gains]
    handles.append(Line2D([], [], marker="o", color="k", ls="none", ms=4))
    labels.append("matched checkpoints")
    handles.append(Line2D([], [], marker="o", mfc="none", color="0.4", ls="none", ms=5))
    labels.append("initialization")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    head = "Distance to M1 along training (lines = runs)"
    fig.suptitle(head if not title else f"{head}\n{title}", fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def plot_matched_distances(training: pd.DataFrame, matched: pd.DataFrame, effects: pd.DataFrame, baselines: dict,
                           levels):
    """Figure: distances at matched accuracy by rule and gain, and the η² variance decomposition.

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
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    reference_lines(ax1, baselines)
    ok = matched[matched["reached"]]
    levels = list(levels)
    nr, ng = len(rules), len(gains)
    width = 0.8 / (nr * ng)
    markers = dict(zip(gains, ["o", "s", "^", "D"] * 4))
    for li, lv in enumerate(levels):
        for ri, rule in enumerate(rules):
            for gi, g0 in enumerate(gains):
                x0 = li + (ri * ng + gi - (nr * ng - 1) / 2) * width
                d = ok[(ok["level"] == lv) & (ok["rule"] == rule) & (ok["g0"] == g0)]["distance"]
                if d.size:
                    ax1.scatter(np.full(d.size, x0), d, color=RULE_COLORS.get(rule, "C2"), marker=markers[g0],
                                s=16, alpha=0.8)
                    ax1.plot([x0 - width / 2, x0 + width / 2], [d.mean()] * 2, color="k", lw=1.2)
    ax1.set_xticks(range(len(levels)), [f"accuracy {lv:g}" for lv in levels])
    ax1.set_ylabel("Procrustes distance to M1")
    ax1.set_title("At matched accuracy (dots = seeds, bars = means)")
    hs, ls_ = ax1.get_legend_handles_labels()
    hs += [Line2D([], [], color=RULE_COLORS.get(r, "C2"), marker="o", ls="none") for r in rules]
    ls_ += rules
    hs += [Line2D([], [], color="0.4", marker=markers[g], ls="none") for g in gains]
    ls_ += [f"g0 = {g:g}" for g in gains]
    ax1.legend(hs, ls_, fontsize=7, loc="best", ncol=2)
    sources = [("rule", "learning rule"), ("g0", "initial gain g0"), ("seed", "seed"), ("residual", "residual")]
    bw = 0.8 / len(sources)
    for si, (src, lab) in enumerate(sources):
        col = f"eta_sq_{src}"
        vals = [float(effects.loc[effects["level"] == lv, col].iloc[0]) if col in effects and (effects["level"] == lv).any()
                else np.nan for lv in levels]
        ax2.bar(np.arange(len(levels)) + (si - (len(sources) - 1) / 2) * bw, vals, bw, label=lab)
    ax2.set_xticks(range(len(levels)), [f"{lv:g}" for lv in levels])
    ax2.set_xlabel("accuracy level")
    ax2.set_ylabel("η² (share of variance in distance)")
    ax2.set_ylim(0, 1)
    ax2.set_title("Rule vs init: variance decomposition")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_model_distances(D, baselines: dict):
    """Figure: a labelled model-model distance matrix and its pairs grouped by rule and gain.

    Parameters
    ----------
    D : xarray.DataArray (network, network_b)
        From :func:`neurosim.pairwise` with ``rule`` and ``g0`` coordinates and a ``level`` attr.
    baselines : dict
        As :func:`plot_distance_along_training`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()

    rules = order_rules(np.unique(np.asarray(D["rule"].values)))
    order = sorted(range(D.sizes["network"]),
                   key=lambda i: (rules.index(str(D["rule"].values[i])), float(D["g0"].values[i]),
                                  str(D["network"].values[i])))
    M = D.values[np.ix_(order, order)]
    names = [str(D["network"].values[i]) for i in order]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.8), gridspec_kw={"width_ratios": [1.3, 1]})
    im = ax1.imshow(M, cmap="viridis", vmin=0,
                    vmax=1.05 * max(float(M.max()), baselines["condition_average"]))
    step = max(1, len(names) // 30)
    ax1.set_xticks(range(0, len(names), step), names[::step], rotation=90, fontsize=6)
    ax1.set_yticks(range(0, len(names), step), names[::step], fontsize=6)
    cb = fig.colorbar(im, ax=ax1, fraction=0.046)
    cb.ax.axhline(baselines["ceiling"], color="w", lw=2)
    cb.ax.axhline(baselines["condition_average"], color="r", lw=2, ls="--")
    cb.set_label("model-model Procrustes distance\n(white: data ceiling, red dashed: condition average)",
                 fontsize=7)
    ax1.set_title(f"Model-model distances at accuracy {D.attrs.get('level', float('nan')):g}", fontsize=10)
    v = D.values
    rl, gl = np.asarray(D["rule"].values), np.asarray(D["g0"].values)
    iu = np.triu_indices(len(rl), 1)
    same_rule = (rl[:, None] == rl[None, :])[iu]
    same_g = (gl[:, None] == gl[None, :])[iu]
    groups = {"same rule, same g0": same_rule & same_g, "other rule, same g0": ~same_rule & same_g,
              "same rule, other g0": same_rule & ~same_g, "other rule, other g0": ~same_rule & ~same_g}
    data = [v[iu][mask] for mask in groups.values()]
    keep = [i for i, d in enumerate(data) if d.size]
    jitter = np.random.default_rng(0)
    for k, i in enumerate(keep, start=1):
        y = k + jitter.uniform(-0.15, 0.15, data[i].size)
        ax2.scatter(data[i], y, s=8, alpha=0.5, color="C0")
        ax2.plot([data[i].mean()] * 2, [k - 0.3, k + 0.3], color="k", lw=2)
    ax2.set_yticks(range(1, len(keep) + 1), [list(groups)[i] for i in keep], fontsize=8)
    reference_lines(ax2, baselines, horizontal=False)
    ax2.set_xlabel("Procrustes distance (angular / (π/2))")
    ax2.legend(fontsize=7, loc="lower right")
    ax2.set_title("Pairs grouped by rule and gain", fontsize=10)
    fig.tight_layout()
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
    ax.legend(fontsize=7, loc="best", ncol=2)
    fig.tight_layout()
    return fig
