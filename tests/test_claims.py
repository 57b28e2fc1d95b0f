"""The main job's verdict machinery: η² shares that add to 1 with intervals, confound flags (table and
figure), the DSA data scale verdict, and the claims table's verdict rules."""

import numpy as np
import pandas as pd
import pytest

from neurosim.experiments.claims import claims_table, effect_intervals
from neurosim.experiments.decomposition import confounded_levels, eta_sq_intervals
from neurosim.experiments.similar_dynamics import scaled_verdict


def _matched(confound=False, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for rule in ("bptt", "eprop"):
        for g0 in (0.5, 1.0):
            if confound and rule == "eprop" and g0 == 0.5:
                continue   # e-prop reaches the level only at g0 = 1
            for s in range(4):
                d = 0.5 + 0.05 * (g0 == 1.0) + 0.01 * (rule == "eprop") + 0.005 * rng.normal()
                rows.append({"run": f"{rule}{g0}{s}", "rule": rule, "g0": g0, "seed": s, "init_seed": s,
                             "level": 0.6, "reached": True, "step": 10, "accuracy": 0.6, "distance": d,
                             "alignment": "a", "n_conditions": 8})
    return pd.DataFrame(rows)


def test_shares_add_to_one_and_confound_is_flagged():
    ok = effect_intervals(_matched(), n_boot=50).iloc[0]
    assert ok["eta_sq_sum"] == pytest.approx(1.0) and ok["confounded"] == ""
    assert ok["eta_sq_g0_ci_low"] <= ok["eta_sq_g0"] <= ok["eta_sq_g0_ci_high"]
    bad = effect_intervals(_matched(confound=True), n_boot=50).iloc[0]
    assert bad["eta_sq_sum"] == pytest.approx(1.0)
    assert bad["confounded"] == "g0=0.5 only with bptt"
    assert bad["eta_sq_shared"] != 0   # unbalanced: a shared part exists, and is reported
    assert confounded_levels(_matched(), "g0") == []


def test_eta_sq_intervals_cover_a_strong_factor():
    iv = eta_sq_intervals(_matched(), factors=["rule", "g0", "seed"], n_boot=100)
    assert iv.loc["g0", "ci_low"] > 0.5 and iv["n_boot"].iloc[0] == 100


def test_figure_shows_shared_and_confound(tmp_path):
    pytest.importorskip("matplotlib")
    from neurosim.plot import plot_matched_distances

    m = _matched(confound=True)
    eff = effect_intervals(m, n_boot=30)
    training = m.assign(step=0)
    fig = plot_matched_distances(training, m, eff, {"ceiling": 0.40, "ceiling_ci_low": 0.38, "ceiling_ci_high": 0.43,
                                                    "condition_average": 0.48}, [0.6])
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("confounded" in t for t in texts) and "g0=0.5 only with bptt" in fig.axes[1].get_xlabel()
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert "shared (no single factor)" in labels
    assert fig.axes[1].get_ylim()[0] <= min(0.0, float(eff["eta_sq_shared"].iloc[0]))
    fig.savefig(tmp_path / "f.png")


def test_scaled_dsa_verdict():
    scale = {"floor_sd": 0.01}
    assert scaled_verdict(0.0, (-0.005, 0.005), scale)[0] == "holds"
    assert scaled_verdict(0.05, (0.02, 0.08), scale)[0] == "does not hold"
    assert scaled_verdict(0.01, (-0.005, 0.03), scale)[0] == "inconclusive"


def test_claims_verdict_rules():
    m = _matched()
    training = pd.concat([m.assign(step=0, distance=m["distance"] + 0.1), m.assign(step=10)])
    diff = pd.DataFrame([{"alignment": "a", "level": 0.6, "rule": "eprop", "difference": 0.001, "ci_low": -0.002,
                          "ci_high": 0.004, "p_value": 0.5, "p_equivalence": 0.01, "margin": 0.008, "paired": True,
                          "margin_source": "given", "n_a": 8, "n_b": 8, "accuracy_mean": 0.6,
                          "accuracy_reference_mean": 0.6}])
    c = claims_table(training, m, diff).set_index("claim")
    assert c.loc["distance falls with accuracy", "verdict"] == "holds"
    assert c.loc["e-prop ≈ BPTT at matched accuracy", "verdict"] == "holds"
    assert c.loc["initialisation matters as much as or more than the rule", "verdict"] == "holds"
    assert c.loc["similar dynamics at matched accuracy", "verdict"] == "inconclusive"
    far = diff.assign(difference=0.05, ci_low=0.03, ci_high=0.07, p_equivalence=0.99)
    assert claims_table(training, m, far).set_index("claim").loc["e-prop ≈ BPTT at matched accuracy",
                                                                 "verdict"] == "does not hold"
    conf = _matched(confound=True)
    c2 = claims_table(pd.concat([conf.assign(step=0), conf.assign(step=10)]), conf, diff).set_index("claim")
    assert c2.loc["initialisation matters as much as or more than the rule", "verdict"] == "inconclusive"
    assert "confounded" in c2.loc["initialisation matters as much as or more than the rule", "note"]
