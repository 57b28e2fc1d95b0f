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


# ---------------------------------------------------------------------------
# reproduce, end to end on a tiny configuration (real Hatsopoulos data)
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.data
def test_reproduce_end_to_end_tiny(tmp_path, monkeypatch):
    from neurosim.baselines import normalized_distance
    from neurosim.compare import compare
    from neurosim import datasets
    from neurosim.datasets import load
    from neurosim.experiments import liu2025 as rep
    from neurosim.rnn import load_run

    data_root = datasets.embedded_dir()  # the M1 copy shipped in the package: runs in any clone
    cfg = rep.ReproduceConfig(rules=("bptt", "eprop"), seeds=(0, 1), g0s=(0.5, 1.0), n_rec=10, steps=20,
                              lr=1e-2, batch_size=8, levels=(-0.5, 0.0, 0.999), n_checkpoints=6, n_splits=8,
                              fixed_point_starts=4, lags=(-320.0, 0.0, 100.0), label="test")
    out = tmp_path / "res"
    r = rep.reproduce(out, data=data_root, config=cfg, progress=False)
    table = pd.read_csv(out / "results.csv")
    assert set(rep.RESULT_COLUMNS) <= set(table.columns)
    assert len(table) == 8 * 3 * 2  # one row per run, level and alignment
    assert set(table["alignment"]) == {"liu2025", "onset"}
    assert not table.loc[table["level"] == 0.999, "reached"].any()  # never reached: reported, NaN distance
    assert table.loc[table["level"] == 0.999, "distance"].isna().all()
    for f in ("results.nc", "training.csv", "effects.csv", "report.md", "distance_vs_accuracy_liu2025.png",
              "distance_vs_accuracy_onset.png", "rule_vs_init_liu2025.png", "lag_sweep.png", "lag_sweep.csv",
              "model_distances.png", "trajectories.png", "model_distances.nc"):
        assert (out / f).stat().st_size > 0, f

    # the matched step is the first checkpoint reaching the level, and its distance is what
    # neurosim.compare gives on the saved run, independently of the pipeline
    training = pd.read_csv(out / "training.csv")
    assert set(rep.TRAINING_COLUMNS) <= set(training.columns)
    assert len(training) == 2 * training.groupby(["run", "step"]).ngroups   # one row per alignment
    rates = load("hatsopoulos2007", path=data_root)["rates"]
    for alignment, lag in (("liu2025", -320.0), ("onset", 0.0)):
        row = table[(table["reached"]) & (table["level"] == 0.0) & (table["alignment"] == alignment)].iloc[0]
        curve = training[(training["run"] == row["run"]) & (training["alignment"] == alignment)].sort_values("step")
        assert int(row["step"]) == int(curve.loc[curve["accuracy"] >= 0.0, "step"].iloc[0])
        run = load_run(out / "runs" / f"{row['run']}.nc")
        d = float(compare(run.activity(int(row["step"])), rates, metric="procrustes", normalize=True,
                          window=cfg.window, lag=lag))
        assert row["distance"] == pytest.approx(d, rel=1e-9)
        assert row["distance_normalized"] == pytest.approx(normalized_distance(d, row["ceiling"]), rel=1e-9)
        init = curve[curve["step"] == 0]["distance"].iloc[0]
        assert init == pytest.approx(float(compare(run.activity(0), rates, metric="procrustes", normalize=True,
                                                   window=cfg.window, lag=lag)), rel=1e-9)
    lag_table = pd.read_csv(out / "lag_sweep.csv")
    one = lag_table[(lag_table["stage"] == "init") & (lag_table["run"] == row["run"])].set_index("lag")["distance"]
    assert one[-320.0] == pytest.approx(training[(training["run"] == row["run"]) & (training["step"] == 0)
                                                 & (training["alignment"] == "liu2025")]["distance"].iloc[0])
    report = (out / "report.md").read_text()
    assert f"{r['baselines']['ceiling']:.3f}" in report and "condition-average baseline" in report
    assert "e-prop − BPTT" in report and "What the alignment does" in report
    assert "Runs that do not reach each level" in report
    # the approximate rules' target is checked over all runs and at each gain
    assert "- eprop (liu2025 alignment), all runs: " in report
    assert "  - at g0 = 0.5: " in report and "  - at g0 = 1: " in report
    assert "| eprop | 0.5 | " in report and "| eprop | all | " in report
    # the dynamics section: DSA to data and between networks, fixed points, a verdict line
    assert "## 7. Dynamics at matched accuracy" in report and "split-half floor" in report
    # the report opens with the claims table; claims.csv has one row per claim and alignment
    assert report.index("## Claims of Liu, Yang & Cueva (2025)") < report.index("## Baselines")
    claims = pd.read_csv(out / "claims.csv")
    assert len(claims) == 4 * 2 and set(claims["verdict"]) <= {"holds", "does not hold", "inconclusive"}
    assert "Matched accuracies" in report
    # exact matching: every reached row carries its accuracy gap; matched steps are crossing steps
    reached = table[table["reached"]]
    assert np.allclose(reached["accuracy_gap"], reached["accuracy"] - reached["level"])
    rd = pd.read_csv(out / "rule_difference.csv")
    assert {"difference", "ci_low", "ci_high", "p_value", "p_equivalence", "margin"} <= set(rd.columns)
    assert np.allclose(rd["margin"], 0.1 * (r["baselines"]["condition_average"] - r["baselines"]["ceiling"]))
    eff = pd.read_csv(out / "effects.csv")
    assert np.allclose(eff["eta_sq_sum"].dropna(), 1.0)
    dyn = pd.read_csv(out / "dynamics.csv")
    assert {"dsa_to_data", "n_fixed_points", "n_stable_fixed_points", "participation_ratio"} <= set(dyn.columns)
    assert (dyn["dsa_to_data"] >= 0).all() and (out / "dynamics.png").stat().st_size > 0
    # one unit: every file (the run cache included) is listed in the manifest of this run
    from neurosim.io import check_manifest

    manifest = check_manifest(out)
    assert "report.md" in manifest["files"] and any(f.startswith("runs/") for f in manifest["files"])

    # a crash while writing the second time leaves the first complete result untouched,
    # and the cached runs are reused (not retrained)
    before = (out / "results.csv").read_bytes()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rep, "_figures", boom)
    with pytest.raises(KeyboardInterrupt):
        rep.reproduce(out, data=data_root, config=cfg, progress=False)
    assert (out / "results.csv").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]
    assert not [p for p in out.parent.iterdir() if ".staging" in p.name or ".old-" in p.name]
    check_manifest(out)  # still the complete first result
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == mtimes


def test_reproduce_missing_data_says_how_to_get_it(tmp_path, capsys):
    from neurosim.cli import main

    assert main(["reproduce", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--quiet",
                 "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "ships inside the package: leave out path= (--data on the command line)" in err  # no download needed
    assert not (tmp_path / "out").exists()  # nothing written before the data are found


def test_sweep_on_local_processes_equals_local(tmp_path):
    from neurosim.experiments.sweep import grid, sweep
    from neurosim.rnn.tasks import PerceptualDecision

    task = PerceptualDecision()
    specs = grid(["bptt", "eprop"], seeds=[0, 1], n_rec=6, steps=3, batch_size=4, lr=1e-2, dtype="float32")
    local = sweep(specs, task, progress=False)
    pooled = sweep(specs, task, out=tmp_path, workers=2, progress=False)
    assert list(pooled) == [s.name for s in specs]
    for name in local:  # same seeds -> bit-identical training in another process
        pd.testing.assert_frame_equal(local[name].checkpoints, pooled[name].checkpoints)
        np.testing.assert_array_equal(local[name].model().params["W_rec"], pooled[name].model().params["W_rec"])
    assert sorted(p.name for p in tmp_path.glob("*.nc")) == sorted(f"{s.name}.nc" for s in specs)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        sweep(specs, task, workers=0, progress=False)


def test_sweep_on_local_cluster_equals_local_and_resumes(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from neurosim.experiments.sweep import grid, sweep
    from neurosim.rnn.tasks import PerceptualDecision

    task = PerceptualDecision()
    specs = grid(["bptt", "eprop-random"], seeds=[0, 1], n_rec=6, steps=3, batch_size=4, lr=1e-2)
    local = sweep(specs, task, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(specs, task, client=client, out=tmp_path, progress=False)
    assert list(remote) == [s.name for s in specs]
    for name in local:  # same seeds -> bit-identical training wherever it runs
        pd.testing.assert_frame_equal(local[name].checkpoints, remote[name].checkpoints)
        np.testing.assert_array_equal(local[name].model().params["W_rec"], remote[name].model().params["W_rec"])
    # a second sweep into the same folder loads the saved runs instead of training again
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = sweep(specs, task, out=tmp_path, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes
    pd.testing.assert_frame_equal(again[specs[0].name].checkpoints, local[specs[0].name].checkpoints)
    with pytest.raises(ValueError, match="duplicate"):
        sweep(specs + specs[:1], task, progress=False)
