"""Variance decomposition on synthetic data with known effects; reproduce pipeline end to end."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from neurosim.experiments.decomposition import variance_decomposition


def _balanced(rule_effect, g0_effect, noise, seeds=6, rng=None):
    rng = rng or np.random.default_rng(0)
    rows = []
    rules = {"bptt": 0.0, "eprop": rule_effect, "eprop-random": rule_effect / 2}
    gains = {0.5: 0.0, 1.0: g0_effect, 1.5: 2 * g0_effect}
    for (r, er), (g, eg), s in itertools.product(rules.items(), gains.items(), range(seeds)):
        rows.append({"rule": r, "g0": g, "seed": s, "distance": 0.5 + er + eg + noise * rng.normal()})
    return pd.DataFrame(rows)


def test_balanced_design_matches_closed_form_sums_of_squares():
    t = _balanced(0.05, 0.2, 0.01)
    d = variance_decomposition(t, factors=["rule", "g0", "seed"])
    y = t["distance"].to_numpy()
    grand = y.mean()
    for f in ("rule", "g0", "seed"):
        means = t.groupby(f)["distance"].agg(["mean", "size"])
        ss = float((means["size"] * (means["mean"] - grand) ** 2).sum())
        assert d.loc[f, "sum_sq"] == pytest.approx(ss, rel=1e-10)
        assert d.loc[f, "df"] == t[f].nunique() - 1
    # orthogonal factors: the parts add up to the total, nothing is shared
    parts = d.loc[["rule", "g0", "seed", "residual"], "sum_sq"].sum()
    assert parts == pytest.approx(d.loc["total", "sum_sq"], rel=1e-10)
    assert d.loc["shared", "sum_sq"] == 0.0
    assert d.loc["total", "eta_sq"] == 1.0
    # init effect (0.2 per step of gain) dominates the rule effect (0.05)
    assert d.loc["g0", "eta_sq"] > 0.9
    assert d.loc["g0", "eta_sq"] > 10 * d.loc["rule", "eta_sq"]
    assert d.loc["g0", "p"] < 1e-10
    # seed has no true effect: its F test is not significant at this noise level
    assert d.loc["seed", "p"] > 0.001


def test_known_eta_squared_without_noise():
    # y = rule effect only: eta2(rule) = 1 exactly, g0 = 0
    t = _balanced(0.3, 0.0, 0.0, seeds=2)
    d = variance_decomposition(t, factors=["rule", "g0"])
    assert d.loc["rule", "eta_sq"] == pytest.approx(1.0)
    assert d.loc["g0", "sum_sq"] == pytest.approx(0.0, abs=1e-20)


def test_invariant_to_row_order_and_shift():
    t = _balanced(0.1, 0.1, 0.05)
    d = variance_decomposition(t, factors=["rule", "g0"])
    t2 = t.sample(frac=1.0, random_state=3).assign(distance=lambda x: x["distance"] + 7.0)
    d2 = variance_decomposition(t2, factors=["rule", "g0"])
    pd.testing.assert_frame_equal(d, d2, rtol=1e-8)


def test_unbalanced_design_type_ii_and_shared():
    t = _balanced(0.1, 0.2, 0.02)
    t = t.drop(index=t.index[(t["rule"] == "bptt") & (t["g0"] == 0.5)][:4])  # unbalance
    d = variance_decomposition(t, factors=["rule", "g0"])
    # Type II for rule = RSS(g0 only) - RSS(full): check with an independent group-mean fit
    resid_g0 = t["distance"] - t.groupby("g0")["distance"].transform("mean")
    rss_g0 = float((resid_g0**2).sum())
    ss_total = d.loc["total", "sum_sq"]
    assert d.loc["rule", "sum_sq"] == pytest.approx(rss_g0 - d.loc["residual", "sum_sq"], rel=1e-9)
    total = d.loc[["rule", "g0", "shared", "residual"], "sum_sq"].sum()
    assert total == pytest.approx(ss_total, rel=1e-10)


def test_decomposition_errors():
    t = _balanced(0.1, 0.1, 0.01)
    with pytest.raises(ValueError, match="not in the table"):
        variance_decomposition(t, factors=["rul"])
    with pytest.raises(ValueError, match="NaN"):
        variance_decomposition(t.assign(distance=np.nan), factors=["rule"])
    with pytest.raises(ValueError, match="zero variance"):
        variance_decomposition(t.assign(distance=1.0), factors=["rule"])
    with pytest.raises(ValueError, match="at least 3"):
        variance_decomposition(t.iloc[:2], factors=["rule"])
