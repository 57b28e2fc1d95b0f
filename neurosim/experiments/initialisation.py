"""Does the initialisation decide the e-prop − BPTT gap? Variance components, the paper's own
initialisation, and the activity penalty.

A rule comparison at matched accuracy is a statement about populations of networks. When every
initialisation is trained by both rules on the same batch orders (``init_seed`` × data ``seed``),
the paired gap ``Δ_ij = d_eprop,ij − d_bptt,ij`` (initialisation ``i``, batch order ``j``) splits
into a between-initialisation part and a within-initialisation (batch-order) part,
``Δ_ij = μ + a_i + e_ij``, estimated by the one-way random-effects analysis of variance
(method of moments):

    MS_between = Σ_i n_i (Δ̄_i − Δ̄)² / (k − 1),   MS_within = Σ_ij (Δ_ij − Δ̄_i)² / (N − k),
    σ²_within = MS_within,   σ²_between = max(0, (MS_between − MS_within) / n0),
    n0 = (N − Σ n_i² / N) / (k − 1),

with ``k`` initialisations and ``N`` pairs. If σ_between ≫ σ_within, one initialisation (the
paper's single network, or a handful) cannot settle the rule's effect: a claim about the rules
needs many initialisations. :func:`gap_components` returns these per alignment and level.

:func:`rate_and_penalty` adds, to every matched row, the activity-penalty weight in force at that
checkpoint and the network's mean squared rate, the quantity the penalty shrinks (e-prop's
matched distance tracks it in single runs). :func:`paper_checkpoint_distances` scores the paper's
released networks with the same pipeline, so runs started from the paper's initialisation can be
set beside them; :func:`penalty_control` compares the gap with and without the penalty for the
same initialisations and batch orders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurosim.compare import compare
from neurosim.datasets.checkpoints import CHECKPOINTS, find_checkpoint
from neurosim.rnn import activity, evaluate, load_torch_checkpoint

__all__ = ["rate_and_penalty", "gap_components", "paper_checkpoint_distances", "penalty_control",
           "PAPER_CHECKPOINT_RULES"]

#: the released networks after 1,000 updates that share the paper's update-0 initialisation and
#: its settings (Adam lr 3e-4): file -> rule
PAPER_CHECKPOINT_RULES = {"bptt_lr3e-4_update1000.pth": "bptt", "eprop_lr3e-4_update1000.pth": "eprop"}


def rate_and_penalty(runs: dict, matched: pd.DataFrame) -> pd.DataFrame:
    """Add ``activity_l2`` and ``mean_sq_rate`` to a matched table (one value per run and step).

    ``activity_l2`` is the penalty weight λ used at that checkpoint (column ``activity_l2`` of the
    run's checkpoints under the adaptive schedule, else the constant weight); ``mean_sq_rate`` is
    ``mean(r²)`` of the network's noise-free rates on the task's evaluation trials (all conditions,
    steps and units; rates are unitless, retanh in [0, 1)), the quantity the penalty ``λ mean(r²)``
    shrinks. Unreached rows get NaN.

    Examples
    --------
    >>> from neurosim.rnn import LeakyRNN, train
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> run = train(LeakyRNN(task.n_in, 8, task.n_out, seed=0, activity_l2=0.5), task, steps=2,
    ...             batch_size=4, progress=False)
    >>> t = rate_and_penalty({"r": run}, pd.DataFrame({"run": ["r"], "step": [2], "reached": [True]}))
    >>> float(t["activity_l2"].iloc[0]), bool(t["mean_sq_rate"].iloc[0] > 0)
    (0.5, True)
    """
    out = matched.copy()
    cache: dict[tuple[str, int], tuple[float, float]] = {}
    lam, rate = [], []
    for row in out.itertuples(index=False):
        if not getattr(row, "reached", True) or pd.isna(row.step):
            lam.append(np.nan), rate.append(np.nan)
            continue
        key = (row.run, int(row.step))
        if key not in cache:
            run = runs[row.run]
            ck = run.checkpoints.set_index("step")
            weight = (float(ck.loc[key[1], "activity_l2"]) if "activity_l2" in ck.columns
                      else float(run.config.get("activity_l2", 0.0)))
            r = run.activity(key[1]).values
            cache[key] = (weight, float(np.mean(r * r)))
        lam.append(cache[key][0]), rate.append(cache[key][1])
    out["activity_l2"] = lam
    out["mean_sq_rate"] = rate
    return out


def _init_keys(table: pd.DataFrame, init) -> list[str]:
    """The columns that identify an initialisation: ``init`` (a name or names), those present."""
    names = [init] if isinstance(init, str) else list(init)
    keys = [c for c in names if c in table.columns]
    if not keys:
        raise ValueError(f"the table has none of the initialisation columns {names}; pass init= the column(s) "
                         "that identify a network's initial weights")
    return keys


def _pairs(matched: pd.DataFrame, rule: str, reference: str, keys) -> pd.DataFrame:
    ok = matched[matched["reached"]] if "reached" in matched else matched
    a = ok[ok["rule"] == rule].set_index(keys)["distance"]
    b = ok[ok["rule"] == reference].set_index(keys)["distance"]
    gap = (a - b).dropna()
    return gap.rename("gap").reset_index()


def gap_components(matched: pd.DataFrame, rule: str = "eprop", reference: str = "bptt", *,
                   init=("g0", "init_seed"), data: str = "seed") -> pd.DataFrame:
    """Between- and within-initialisation spread of the paired gap ``d_rule − d_reference``.

    Parameters
    ----------
    matched : DataFrame
        Matched rows (``rule``, ``level``, ``alignment``, ``distance``, ``reached``, and the
        ``init`` and ``data`` columns that identify a network's initialisation and batch order).
    rule, reference : str
        The gap is ``distance(rule) − distance(reference)`` for runs sharing (init, data).
    init : str or sequence of str
        Column(s) that identify an initialisation (default ``("g0", "init_seed")``, those present:
        runs at different gains are different initialisations).
    data : str
        Column of the batch-order seed.

    Returns
    -------
    DataFrame
        One row per alignment and level: ``n_inits`` (k), ``n_pairs`` (N), ``gap_mean``,
        ``sd_between_init`` = σ_between, ``sd_within_init`` = σ_within (module docstring; distance
        units, i.e. normalized Procrustes angle), ``sd_init_means`` (SD of the k per-initialisation
        mean gaps), ``icc`` = σ²_between / (σ²_between + σ²_within), and ``n_per_init`` (mean pairs
        per initialisation). σ_within is NaN without repeated batch orders.

    Examples
    --------
    >>> t = pd.DataFrame({"rule": ["eprop", "bptt"] * 4, "level": 0.9, "alignment": "liu2025",
    ...                   "reached": True, "init_seed": [0, 0, 0, 0, 1, 1, 1, 1],
    ...                   "seed": [0, 0, 1, 1, 0, 0, 1, 1],
    ...                   "distance": [0.50, 0.40, 0.52, 0.40, 0.41, 0.40, 0.43, 0.40]})
    >>> r = gap_components(t).iloc[0]
    >>> int(r.n_inits), int(r.n_pairs), round(float(r.gap_mean), 3), round(float(r.sd_within_init), 4)
    (2, 4, 0.065, 0.0141)
    """
    rows = []
    ikeys = _init_keys(matched, init)
    groups = ["alignment", "level"] if "alignment" in matched else ["level"]
    for key, g in matched.groupby(groups, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        gap = _pairs(g, rule, reference, [*ikeys, data])
        row = dict(zip(groups, key))
        row.update(rule=rule, reference=reference, n_pairs=int(len(gap)))
        if len(gap) == 0:
            rows.append(row)
            continue
        by = gap.groupby(ikeys)["gap"]
        n_i = by.size().to_numpy(float)
        means = by.mean().to_numpy(float)
        k, N = len(n_i), float(n_i.sum())
        grand = float(gap["gap"].mean())
        ss_w = float(((gap["gap"] - by.transform("mean")) ** 2).sum())
        ms_w = ss_w / (N - k) if N > k else np.nan
        ms_b = float((n_i * (means - grand) ** 2).sum() / (k - 1)) if k > 1 else np.nan
        n0 = (N - (n_i ** 2).sum() / N) / (k - 1) if k > 1 else np.nan
        if np.isfinite(ms_w) and np.isfinite(ms_b):
            var_b = max(0.0, (ms_b - ms_w) / n0)
        elif np.isfinite(ms_b):
            var_b = float(np.var(means, ddof=1))  # one pair per initialisation: total spread
        else:
            var_b = np.nan
        var_w = ms_w
        icc = var_b / (var_b + var_w) if np.isfinite(var_b) and np.isfinite(var_w) and var_b + var_w > 0 else np.nan
        row.update(n_inits=k, n_per_init=N / k, gap_mean=grand,
                   sd_between_init=float(np.sqrt(var_b)) if np.isfinite(var_b) else np.nan,
                   sd_within_init=float(np.sqrt(var_w)) if np.isfinite(var_w) else np.nan,
                   sd_init_means=float(np.std(means, ddof=1)) if k > 1 else np.nan, icc=icc)
        rows.append(row)
    return pd.DataFrame(rows)


def paper_checkpoint_distances(task, rates, *, window, lags: dict, path=None) -> pd.DataFrame:
    """The paper's released networks after 1,000 updates, scored by this pipeline.

    For each file of :data:`PAPER_CHECKPOINT_RULES` (found by
    :func:`neurosim.datasets.find_checkpoint`, verified by sha256): accuracy on ``task``'s
    evaluation trials and the normalized Procrustes distance to ``rates`` over ``window`` under
    every alignment of ``lags`` (label -> lag in ms). Raises ``FileNotFoundError`` (saying how
    to get them) when the files are not available.

    Returns
    -------
    DataFrame
        ``file, rule, update, accuracy, alignment, distance, mean_sq_rate``.

    Examples
    --------
    >>> from neurosim.datasets import load
    >>> from neurosim.rnn.tasks import CenterOutReach
    >>> ds = load("hatsopoulos2007")
    >>> t = paper_checkpoint_distances(CenterOutReach.from_dataset(ds), ds["rates"], window=(-800, 400),
    ...                                lags={"liu2025": 320.0}, path="../shared/data")  # doctest: +SKIP
    >>> t.set_index("rule")["distance"].round(4).to_dict()  # doctest: +SKIP
    {'bptt': 0.3283, 'eprop': 0.4136}
    """
    info = CHECKPOINTS["liu2025"]
    rows = []
    for file, rule in PAPER_CHECKPOINT_RULES.items():
        info.file(file)  # a registered file
        model = load_torch_checkpoint(find_checkpoint("liu2025", file, path))
        acc = float(evaluate(model, task)[1])
        act = activity(model, task)
        msr = float(np.mean(act.values ** 2))
        for label, lag in lags.items():
            d = float(compare(act, rates, metric="procrustes", normalize=True, window=window, lag=lag))
            rows.append({"file": file, "rule": rule, "update": 1000, "accuracy": acc, "alignment": label,
                         "distance": d, "mean_sq_rate": msr})
    return pd.DataFrame(rows)


def penalty_control(penalised: pd.DataFrame, control: pd.DataFrame, rule: str = "eprop",
                    reference: str = "bptt", *, init=("g0", "init_seed"), data: str = "seed") -> pd.DataFrame:
    """The paired gap with and without the activity penalty, on the same initialisations and batch orders.

    Parameters
    ----------
    penalised, control : DataFrame
        Matched rows of the runs with the penalty and of the control runs without it.

    Returns
    -------
    DataFrame
        Per alignment and level: ``n_pairs`` (initialisation × batch order present in both),
        ``gap_penalised`` and ``gap_control`` (mean paired gaps over those), ``change`` =
        control − penalised with its SD over pairs ``change_sd``, and the rule's and the
        reference's mean squared rate in each (``rate_<rule>_penalised`` ...; NaN when the tables
        lack ``mean_sq_rate``).

    Examples
    --------
    >>> base = {"rule": ["eprop", "bptt"], "level": 0.9, "alignment": "a", "reached": True,
    ...         "init_seed": 0, "seed": 0}
    >>> p = pd.DataFrame({**base, "distance": [0.45, 0.40]})
    >>> c = pd.DataFrame({**base, "distance": [0.42, 0.40]})
    >>> round(float(penalty_control(p, c)["change"].iloc[0]), 3)
    -0.03
    """
    rows = []
    groups = ["alignment", "level"] if "alignment" in penalised else ["level"]
    keys = [*_init_keys(penalised, init), data]
    for key, g in penalised.groupby(groups, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        sel = np.ones(len(control), bool)
        for col, v in zip(groups, key):
            sel &= (control[col] == v).to_numpy()
        gp = _pairs(g, rule, reference, keys).set_index(keys)["gap"]
        gc = _pairs(control[sel], rule, reference, keys).set_index(keys)["gap"]
        both = gp.index.intersection(gc.index)
        row = dict(zip(groups, key))
        row.update(rule=rule, reference=reference, n_pairs=int(len(both)))
        if len(both):
            change = gc.loc[both] - gp.loc[both]
            row.update(gap_penalised=float(gp.loc[both].mean()), gap_control=float(gc.loc[both].mean()),
                       change=float(change.mean()), change_sd=float(change.std(ddof=1)) if len(both) > 1 else np.nan)
        for name, table in (("penalised", g), ("control", control[sel])):
            ok = table[table["reached"]] if "reached" in table else table
            for r in (rule, reference):
                v = ok.loc[ok["rule"] == r, "mean_sq_rate"] if "mean_sq_rate" in ok else pd.Series(dtype=float)
                row[f"rate_{r}_{name}"] = float(v.mean()) if len(v) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
