"""Do BPTT- and e-prop-trained networks have similar dynamics at matched accuracy?

Liu, Yang & Cueva (ICML 2025) claim that they do. This module tests the claim on a set of trained
runs at one matched accuracy level, with three measurements per network:

* **DSA** (Dynamical Similarity Analysis, :mod:`neurosim.metrics.dynamics`): the angular distance
  (radians, 0 = the same linear dynamics up to an orthogonal change of coordinates) between the
  delay-embedded DMD operators of two systems — each network against the recordings, and every
  pair of networks. Pairs are grouped by whether they share the learning rule and whether they
  share the initialization (same ``g0`` and seed = the same initial weights); the claim predicts
  that a different rule moves a network's dynamics no more than a different initialization does.
* **Fixed points** under the constant input of the delay period (cue over, hold on; Sussillo &
  Barak 2013, :func:`neurosim.rnn.analysis.find_fixed_points`): how many, and how many stable.
* **Participation ratio** of the activity in the compared window (effective dimensionality).

Every network is scored on the same clock as the distance to data: its activity is aligned to
the recording with :func:`neurosim.compare.prepare` (``window`` in data time, ``lag`` in ms), so
the DSA operators describe the same stretch of the trial as the Procrustes distances.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.compare import prepare
from neurosim.metrics.dynamics import dsa_compare, dsa_prepare
from neurosim.rnn.analysis.dynamics import participation_ratio
from neurosim.rnn.analysis.fixed_points import find_fixed_points

__all__ = ["DSA_OPTIONS", "delay_inputs", "similar_dynamics", "pair_groups", "PAIR_GROUPS", "data_scale", "scaled_verdict"]

#: DSA settings of the main job: 10 delays of one 10-ms bin, rank 10 (see dsa_distance)
DSA_OPTIONS = {"n_delays": 10, "delay_interval": 1, "rank": 10}

#: model-model pair categories, in reporting order
PAIR_GROUPS = ("same rule, same init", "same rule, other init", "other rule, same init", "other rule, other init")


def delay_inputs(task) -> np.ndarray:
    """The distinct constant inputs of the delay period of ``task``'s evaluation trials, (K, I).

    The delay input of a trial is its input halfway between the cue onset and the go step
    (``batch.info["cue"]``, ``batch.info["go"]``): for the paper's centre-out design the cue
    bump is over and the hold signal is on, so every direction shares one delay input
    ``[0, 0, 1]``; under a sustained cue each direction has its own.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn.tasks import CenterOutReach
    >>> task = CenterOutReach(np.zeros((8, 121, 2)), np.arange(-800, 401, 10.0), np.arange(0, 360, 45.0),
    ...                       design="liu2025")
    >>> delay_inputs(task).tolist()
    [[0.0, 0.0, 1.0]]
    """
    batch = task.conditions()
    info = getattr(batch, "info", {}) or {}
    if "cue" not in info or "go" not in info:
        raise ValueError(f"task {task.name!r} has no cue/go steps in its evaluation trials (batch.info); "
                         "pass the delay input to similar_dynamics(delay_input=...) yourself")
    steps = (np.asarray(info["cue"]) + np.asarray(info["go"])) // 2
    x = batch.inputs[np.arange(len(steps)), steps]
    return np.unique(np.round(x, 12), axis=0)


def pair_groups(meta: pd.DataFrame) -> pd.DataFrame:
    """Every pair of networks with its category in :data:`PAIR_GROUPS`.

    ``meta`` has one row per network with ``run``, ``rule``, ``g0`` and ``seed`` (and optionally
    ``init_seed``); two networks share the initialization when ``g0`` and the initialisation seed
    are equal (the sweep draws the initial weights from them: ``init_seed`` where given, else
    ``seed``). Two networks of one initialisation trained on different batch orders by the same
    rule are a *same rule, same init* pair.

    >>> m = pd.DataFrame({"run": list("abc"), "rule": ["bptt", "eprop", "bptt"], "g0": [1.0] * 3,
    ...                   "seed": [0, 0, 1]})
    >>> pair_groups(m)[["a", "b", "group"]].values.tolist()
    [['a', 'b', 'other rule, same init'], ['a', 'c', 'same rule, other init'], ['b', 'c', 'other rule, other init']]
    """
    rows = []
    recs = meta.to_dict("records")
    key = "init_seed" if "init_seed" in meta.columns else "seed"
    for p, q in combinations(recs, 2):
        rule = "same rule" if p["rule"] == q["rule"] else "other rule"
        init = "same init" if (p["g0"], p[key]) == (q["g0"], q[key]) else "other init"
        rows.append({"a": p["run"], "b": q["run"], "rule_a": p["rule"], "rule_b": q["rule"], "group": f"{rule}, {init}"})
    return pd.DataFrame(rows, columns=["a", "b", "rule_a", "rule_b", "group"])


def _trajectories(da: xr.DataArray) -> np.ndarray:
    return da.transpose("condition", "time", "unit").values


def similar_dynamics(
    runs: dict,
    matched: pd.DataFrame,
    rates: xr.DataArray,
    level: float,
    *,
    window=(-800.0, 400.0),
    lag: float = 0.0,
    delay_input=None,
    dsa_options: dict | None = None,
    fixed_point_starts: int = 24,
    seed: int = 0,
) -> dict:
    """DSA to the data and between networks, fixed points and dimensionality at one matched level.

    Parameters
    ----------
    runs : dict
        Run name -> :class:`neurosim.rnn.Run`.
    matched : DataFrame
        Matched-accuracy table (:func:`neurosim.matching.accuracy_matched`: ``run``, ``rule``,
        ``seed``, ``g0``, ``level``, ``reached``, ``step``); runs that reached ``level`` are used.
    rates : DataArray (condition, time, unit)
        The recordings.
    level : float
        Matched accuracy level.
    window : (start, stop)
        Data time compared (ms).
    lag : float
        Model time ``t`` ↔ data time ``t + lag`` (ms): the alignment of the distance to data.
    delay_input : array (I,) or (K, I), optional
        Constant input(s) for the fixed points (default :func:`delay_inputs` of the runs' task).
    dsa_options : dict, optional
        ``n_delays``, ``delay_interval``, ``rank`` (default :data:`DSA_OPTIONS`).
    fixed_point_starts : int
        Minimisations per network and delay input.
    seed : int
        Seed of DSA's restarts and the fixed-point starts.

    Returns
    -------
    dict
        ``networks`` (one row per network: ``dsa_to_data`` in radians, ``n_fixed_points`` and
        ``n_stable`` averaged over delay inputs, ``participation_ratio``), ``pairs`` (one row per
        network pair with its DSA and group), ``groups`` (mean, SD and count per pair group),
        ``matrix`` (labelled K×K DSA), ``settings``.
    """
    opts = {**DSA_OPTIONS, **(dsa_options or {})}
    ok = matched[(matched["level"] == level) & matched["reached"]].sort_values(["rule", "g0", "seed"])
    if len(ok) < 2:
        raise ValueError(f"similar_dynamics needs at least 2 runs that reached accuracy {level}; got {len(ok)}")
    aligned, rows = {}, []
    for r in ok.itertuples(index=False):
        al = prepare(runs[r.run].activity(int(r.step)), rates, window=window, lag=lag)
        aligned[r.run] = al
        rows.append({"run": r.run, "rule": r.rule, "seed": r.seed, "init_seed": getattr(r, "init_seed", r.seed),
                     "g0": r.g0, "level": level, "step": int(r.step), "accuracy": float(r.accuracy)})
    networks = pd.DataFrame(rows)
    first = next(iter(aligned.values()))
    data_fit = dsa_prepare(_trajectories(first.data), **opts, name="data")
    fits = {name: dsa_prepare(_trajectories(al.model), **opts, name=name) for name, al in aligned.items()}
    networks["dsa_to_data"] = [dsa_compare(fits[n], data_fit, seed=seed) for n in networks["run"]]
    networks["participation_ratio"] = [participation_ratio(aligned[n].model) for n in networks["run"]]

    task = runs[networks["run"].iloc[0]].task
    inputs = np.atleast_2d(delay_inputs(task) if delay_input is None else np.asarray(delay_input, dtype=float))
    n_fp, n_stable = [], []
    for r in networks.itertuples(index=False):
        model = runs[r.run].model(int(r.step))
        found = [find_fixed_points(model, x, n_starts=fixed_point_starts, seed=seed) for x in inputs]
        n_fp.append(float(np.mean([len(f) for f in found])))
        n_stable.append(float(np.mean([int(np.sum(f.stable)) for f in found])))
    networks["n_fixed_points"] = n_fp
    networks["n_stable_fixed_points"] = n_stable

    pairs = pair_groups(networks)
    pairs["dsa"] = [dsa_compare(fits[a], fits[b], seed=seed) for a, b in zip(pairs["a"], pairs["b"])]
    groups = (pairs.groupby("group")["dsa"].agg(["mean", "std", "count"]).reindex(list(PAIR_GROUPS))
              .dropna(subset=["count"]).reset_index())
    names = list(networks["run"])
    D = np.zeros((len(names), len(names)))
    index = {n: i for i, n in enumerate(names)}
    for a, b, v in zip(pairs["a"], pairs["b"], pairs["dsa"]):
        D[index[a], index[b]] = D[index[b], index[a]] = v
    coords = {"network": names, "network_b": names}
    for col in ("rule", "g0", "seed"):
        coords[col] = ("network", networks[col].to_numpy())
        coords[f"{col}_b"] = ("network_b", networks[col].to_numpy())
    matrix = xr.DataArray(D, dims=("network", "network_b"), coords=coords, name="dsa",
                          attrs={"level": float(level), "units": "radians", **{f"dsa_{k}": v for k, v in opts.items()}})
    settings = {"level": float(level), "window": tuple(float(w) for w in window), "lag": float(lag), **opts,
                "delay_inputs": inputs.tolist(), "fixed_point_starts": int(fixed_point_starts), "seed": seed}
    return {"networks": networks, "pairs": pairs, "groups": groups, "matrix": matrix, "settings": settings}


def data_scale(rates: xr.DataArray, *, window=(-800.0, 400.0), n_splits: int = 10, n_null: int = 10,
               dsa_options: dict | None = None, seed: int = 0) -> dict:
    """The data's own DSA scale: its split-half floor and a time-shuffled null.

    * **floor** — DSA (radians) between the dynamics of two random disjoint halves of the units,
      repeated over ``n_splits`` splits: how far the recordings are from themselves at this
      number of units, conditions and bins. A model no farther than this is as close as the
      data's resolution allows, and a difference between models smaller than the floor's SD is
      *indistinguishable at this data's resolution*;
    * **null** — DSA between the recordings and a copy whose time bins are shuffled within each
      condition (``n_null`` shuffles): activity with the same units and values but no dynamics.

    Parameters
    ----------
    rates : DataArray (condition, time, unit)
    window : (start, stop)
        Data time (ms) — the same window as the models' DSA.
    n_splits, n_null : int
        Repetitions.
    dsa_options : dict, optional
        As :func:`similar_dynamics` (default :data:`DSA_OPTIONS`).
    seed : int

    Returns
    -------
    dict
        ``floor`` (mean), ``floor_sd``, ``floor_values``, ``null`` (mean), ``null_sd``,
        ``null_values``, ``n_units``, ``settings``.

    Examples
    --------
    >>> from neurosim.trajectories import trajectories
    >>> t = np.arange(40.0)
    >>> base = np.stack([np.sin(0.2 * t + p) for p in range(3)])          # (condition, time)
    >>> rng = np.random.default_rng(0)
    >>> X = base[:, :, None] * rng.normal(size=(1, 1, 12)) + 0.01 * rng.normal(size=(3, 40, 12))
    >>> sc = data_scale(trajectories(X, conditions=range(3), time=t), window=None, n_splits=3, n_null=3,
    ...                 dsa_options={"n_delays": 3, "rank": 4})
    >>> bool(sc["floor"] < sc["null"])
    True
    """
    opts = {**DSA_OPTIONS, **(dsa_options or {})}
    da = rates if window is None else rates.sel(time=slice(*window))
    X = _trajectories(da)
    U = X.shape[2]
    if U < 4:
        raise ValueError(f"a split-half DSA floor needs at least 4 units; the data has {U}")
    rng = np.random.default_rng(seed)
    floor = []
    for _ in range(int(n_splits)):
        perm = rng.permutation(U)
        a, b = perm[: U // 2], perm[U // 2: 2 * (U // 2)]
        floor.append(dsa_compare(dsa_prepare(X[:, :, a], **opts), dsa_prepare(X[:, :, b], **opts), seed=seed))
    whole = dsa_prepare(X, **opts)
    null = []
    for _ in range(int(n_null)):
        shuffled = np.stack([c[rng.permutation(c.shape[0])] for c in X])
        null.append(dsa_compare(whole, dsa_prepare(shuffled, **opts), seed=seed))
    floor, null = np.asarray(floor), np.asarray(null)
    return {"floor": float(floor.mean()), "floor_sd": float(floor.std(ddof=1)) if floor.size > 1 else np.nan,
            "floor_values": floor, "null": float(null.mean()),
            "null_sd": float(null.std(ddof=1)) if null.size > 1 else np.nan, "null_values": null,
            "n_units": int(U), "settings": {"window": None if window is None else tuple(float(w) for w in window),
                                            "n_splits": int(n_splits), "n_null": int(n_null), **opts, "seed": seed}}


def scaled_verdict(difference: float, ci: tuple[float, float], scale: dict) -> tuple[str, str]:
    """Verdict on "the rules' dynamics are equally close to the data", on the data's own scale.

    The resolution is the split-half floor's SD (``scale["floor_sd"]``): a rule difference in
    DSA to the data whose 95 % interval lies inside ``±floor_sd`` is *indistinguishable at this
    data's resolution* (``"holds"``); an interval entirely outside it is a difference the data
    resolves (``"does not hold"``); otherwise ``"inconclusive"``. Returns ``(verdict, reason)``.

    >>> scaled_verdict(0.002, (-0.004, 0.008), {"floor_sd": 0.01})[0]
    'holds'
    >>> scaled_verdict(0.05, (0.03, 0.07), {"floor_sd": 0.01})[0]
    'does not hold'
    """
    res = float(scale["floor_sd"])
    lo, hi = ci
    if not (np.isfinite(res) and np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive", "no interval or no data floor"
    if -res < lo and hi < res:
        return "holds", (f"the interval of the difference lies inside ±{res:.4f} rad, the SD of M1's split-half DSA: "
                         "indistinguishable at this data's resolution")
    if lo > res or hi < -res:
        return "does not hold", f"the interval lies outside ±{res:.4f} rad (the SD of M1's split-half DSA)"
    return "inconclusive", f"the interval straddles ±{res:.4f} rad (the SD of M1's split-half DSA)"


def verdict(result: dict, reference: str = "bptt", other: str = "eprop") -> dict:
    """Numbers that decide the "similar dynamics at matched accuracy" claim.

    * ``rule_minus_init``: mean DSA of *other rule, same init* pairs minus that of *same rule,
      other init* pairs — negative or about zero means a different rule changes the dynamics no
      more than a different initialization does (the claim);
    * ``to_data_diff``: mean DSA-to-data of ``other`` minus ``reference``, with the seed SD of the
      DSA-to-data values within each rule (pooled);
    * ``holds``: both hold — ``rule_minus_init`` ≤ the SD of the same-rule-other-init pairs, and
      ``|to_data_diff|`` ≤ the pooled seed SD.

    >>> pairs = pd.DataFrame({"group": ["other rule, same init", "same rule, other init"] * 2, "dsa": [0.2, 0.3, 0.2, 0.5]})
    >>> nets = pd.DataFrame({"rule": ["bptt", "bptt", "eprop", "eprop"], "dsa_to_data": [0.5, 0.6, 0.55, 0.65]})
    >>> v = verdict({"pairs": pairs, "networks": nets}); round(v["rule_minus_init"], 3), v["holds"]
    (-0.2, True)
    """
    pairs, nets = result["pairs"], result["networks"]
    g = pairs.groupby("group")["dsa"]
    means = g.mean()
    sds = g.std(ddof=1)
    out: dict = {}
    if {"other rule, same init", "same rule, other init"} <= set(means.index):
        out["rule_minus_init"] = float(means["other rule, same init"] - means["same rule, other init"])
        out["init_sd"] = float(sds.get("same rule, other init", np.nan))
    by_rule = nets.groupby("rule")["dsa_to_data"]
    if {reference, other} <= set(by_rule.groups):
        out["to_data_diff"] = float(by_rule.mean()[other] - by_rule.mean()[reference])
        var = by_rule.var(ddof=1).reindex([reference, other])
        n = by_rule.count().reindex([reference, other])
        dof = (n - 1).clip(lower=0)
        out["to_data_seed_sd"] = float(np.sqrt((var.fillna(0) * dof).sum() / dof.sum())) if dof.sum() > 0 else np.nan
    checks = []
    if "rule_minus_init" in out and np.isfinite(out.get("init_sd", np.nan)):
        checks.append(out["rule_minus_init"] <= out["init_sd"])
    if "to_data_diff" in out and np.isfinite(out.get("to_data_seed_sd", np.nan)):
        checks.append(abs(out["to_data_diff"]) <= out["to_data_seed_sd"])
    out["holds"] = bool(checks) and all(checks)
    return out
