"""neurosim.plot: every figure returns a Figure, shows every data point, keeps legends off the
data, labels its axes, and refuses bad input with a message that says what is wrong."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402

from neurosim import plot  # noqa: E402
from neurosim.metrics import rdm as rdm_fn  # noqa: E402
from neurosim.trajectories import trajectories  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _reach(rng, n_units=12, n_time=25, angles=True):
    t = np.arange(n_time) * 10.0 - 100.0
    theta = np.deg2rad(np.arange(0, 360, 45))
    latent = np.stack([np.cos(theta)[:, None] * np.sin(t / 80.0), np.sin(theta)[:, None] * np.sin(t / 80.0),
                       np.ones((8, 1)) * np.cos(t / 60.0)], axis=-1)  # (8, T, 3)
    X = latent @ rng.normal(size=(3, n_units)) + 0.05 * rng.normal(size=(8, n_time, n_units))
    conds = np.arange(0, 360, 45) if angles else [f"c{i}" for i in range(8)]
    da = trajectories(X, conditions=conds, time=t)
    if angles:
        da["condition"].attrs.update(units="degree", long_name="reach direction")
    da.attrs["units"] = "spikes/s"
    return da


def _display_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return r


def _data_bbox(ax, r):
    return ax.get_window_extent(r)


def _assert_legend_off_axes(fig, legend):
    r = _display_boxes(fig)
    lb = legend.get_window_extent(r)
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert not lb.overlaps(ax.get_window_extent(r)), "legend overlaps a data area"


def _all_fontsizes(fig):
    sizes = []
    for ax in fig.axes:
        for t in [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]:
            if t.get_text():
                sizes.append(t.get_fontsize())
    for leg in fig.legends:
        sizes += [t.get_fontsize() for t in leg.get_texts()]
    return sizes


# --------------------------------------------------------------------------- trajectories in PCs
@pytest.mark.parametrize("k", [2, 3])
def test_a_rotated_scaled_copy_draws_exactly_like_the_data(rng, k):
    data = _reach(rng)
    Q = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    model = data.copy(data=3.0 * data.values @ Q + 1.0).isel(condition=[7, 6, 5, 4, 3, 2, 1, 0])
    fig = plot.trajectories_in_pcs(model, data, n_components=k)
    assert isinstance(fig, Figure)
    P = fig.neurosim
    assert P["data"].shape == (8, 25, k)
    np.testing.assert_allclose(P["model"], P["data"], atol=1e-8)
    assert P["distance"] < 1e-6


def test_projection_is_the_data_pcs_and_limits_hold_every_point(rng):
    data = _reach(rng)
    model = _reach(np.random.default_rng(5), n_units=30)
    fig = plot.trajectories_in_pcs(model, data, n_components=2, window=(-50, 100))
    P = fig.neurosim
    assert P["data"].shape[1] == 16 and P["time"][0] == -50.0 and P["time"][-1] == 100.0
    Y = data.sel(time=slice(-50, 100)).values.reshape(-1, 12)
    Yc = Y - Y.mean(0)
    s = np.linalg.svd(Yc, compute_uv=False)
    np.testing.assert_allclose(P["explained_variance"], s[:2] ** 2 / np.sum(s ** 2))
    # the data's PC scores have the variance of the top singular values
    np.testing.assert_allclose(np.sum(P["data"].reshape(-1, 2) ** 2, axis=0), s[:2] ** 2, rtol=1e-10)
    ax_d, ax_m = fig.axes[:2]
    for ax, key in ((ax_d, "data"), (ax_m, "model")):
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        pts = P[key].reshape(-1, 2)
        assert x0 <= pts[:, 0].min() and pts[:, 0].max() <= x1
        assert y0 <= pts[:, 1].min() and pts[:, 1].max() <= y1
        assert "PC1" in ax.get_xlabel() and "spikes/s" in ax.get_xlabel() and "PC2" in ax.get_ylabel()
    assert "-50" in fig._suptitle.get_text() and "100" in fig._suptitle.get_text()


def test_angles_get_a_cyclic_colorbar_and_labels_a_legend_off_the_data(rng):
    fig = plot.trajectories_in_pcs(_reach(rng), _reach(rng), n_components=3, alignment="0 ms = movement onset")
    cbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(cbars) == 1 and "reach direction" in cbars[0].get_ylabel()
    assert "movement onset" in fig._suptitle.get_text()
    r = _display_boxes(fig)
    cb = cbars[0].get_window_extent(r)
    assert not any(cb.overlaps(ax.get_window_extent(r)) for ax in fig.axes[:2])
    fig2 = plot.trajectories_in_pcs(_reach(rng, angles=False), _reach(rng, angles=False), n_components=2)
    assert len(fig2.legends) == 1 and [t.get_text() for t in fig2.legends[0].get_texts()][:2] == ["c0", "c1"]
    _assert_legend_off_axes(fig2, fig2.legends[0])
    assert min(_all_fontsizes(fig2)) >= 8


def test_trajectories_in_pcs_refuses_bad_input(rng):
    data = _reach(rng)
    with pytest.raises(ValueError, match="n_components must be 2 or 3"):
        plot.trajectories_in_pcs(data, data, n_components=4)
    with pytest.raises(TypeError, match="xarray.DataArray"):
        plot.trajectories_in_pcs(data.values, data)
    with pytest.raises((ValueError, TypeError), match="dims|condition"):
        plot.trajectories_in_pcs(data.rename(unit="neuron"), data)
    with pytest.raises(ValueError, match="time bin"):
        plot.trajectories_in_pcs(data, data, window=(0, 5))


def test_matplotlib_missing_is_a_clear_import_error(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"neurosim\[plots\]"):
        plot.rdm_heatmap(np.ones(3))


# --------------------------------------------------------------------------- RDMs and MDS
def test_rdm_heatmap_labels_colorbar_and_values(rng):
    X = rng.normal(size=(5, 10))
    v = rdm_fn(X, method="correlation")
    fig = plot.rdm_heatmap(v, labels=list("abcde"), method="correlation", units="1 − r")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcde")
    np.testing.assert_allclose(ax.images[0].get_array(), squareform(v))
    cbar = fig.axes[1]
    assert "correlation" in cbar.get_ylabel() and "1 − r" in cbar.get_ylabel()
    assert min(_all_fontsizes(fig)) >= 8


def test_many_conditions_keep_readable_tick_labels(rng):
    v = pdist(rng.normal(size=(90, 4)))
    fig = plot.rdm_heatmap(v)
    ticks = fig.axes[0].get_xticklabels()
    assert len(ticks) <= 45 and all(t.get_fontsize() >= 8 for t in ticks)


def test_condition_rdm_is_the_rdm_of_whole_responses(rng):
    data = _reach(rng)
    R = plot.condition_rdm(data, method="euclidean", window=(0, 100))
    X = data.sel(time=slice(0, 100)).values.reshape(8, -1)
    np.testing.assert_allclose(R.values, squareform(pdist(X)), atol=1e-8)
    assert R.attrs["units"] == "spikes/s" and R.attrs["condition_angles"] == list(np.arange(0.0, 360, 45))
    fig = plot.rdm_heatmap(R)
    assert "euclidean" in fig.axes[1].get_ylabel() and "spikes/s" in fig.axes[1].get_ylabel()
    assert "reach direction" in fig.axes[0].get_xlabel()


@pytest.mark.parametrize("bad, match", [
    (np.ones(4), "K\\(K-1\\)/2"),
    (np.array([[0.0, 1.0], [2.0, 0.0]]), "not symmetric"),
    (np.ones((2, 3)), "square"),
    (np.array([0.0, np.nan, 1.0]), "NaN"),
])
def test_rdm_heatmap_refuses_bad_matrices(bad, match):
    with pytest.raises(ValueError, match=match):
        plot.rdm_heatmap(bad)


def test_rdm_heatmap_refuses_wrong_label_count(rng):
    with pytest.raises(ValueError, match="labels has 2 entries for an rdm of 3"):
        plot.rdm_heatmap(np.ones(3), labels=["a", "b"])


def test_classical_mds_recovers_euclidean_configurations(rng):
    P = rng.normal(size=(7, 2))
    fig = plot.mds_conditions(pdist(P), labels=list("abcdefg"))
    C = fig.neurosim["coords"]
    np.testing.assert_allclose(pdist(C), pdist(P), atol=1e-10)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == list("abcdefg")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < C[:, 0].min() and C[:, 0].max() < x1 and y0 < C[:, 1].min() and C[:, 1].max() < y1
    assert "MDS 1" in ax.get_xlabel() and "100 %" in ax.get_title()


def test_mds_of_trajectories_and_metric_mds(rng):
    data = _reach(rng)
    fig = plot.mds_conditions(data, method="correlation")
    assert len(fig.neurosim["coords"]) == 8 and "1 − r" in fig.axes[0].get_xlabel()
    P = rng.normal(size=(6, 2))
    fig2 = plot.mds_conditions(pdist(P), metric=True)
    assert "stress" in fig2.axes[0].get_title()
    np.testing.assert_allclose(pdist(fig2.neurosim["coords"]), pdist(P), atol=1e-3)
    with pytest.raises(ValueError, match="at least 3 conditions"):
        plot.mds_conditions(np.ones(1))


# --------------------------------------------------------------------------- distance vs accuracy
def _training_table(rng):
    rows = []
    for rule in ("bptt", "eprop"):
        for seed in range(3):
            acc = np.array([-1.7, -0.4, 0.3, 0.7, 0.9, 0.95]) + 0.02 * seed
            for step, a in zip([0, 5, 20, 50, 100, 200], acc):
                rows.append({"rule": rule, "seed": seed, "step": step, "accuracy": a,
                             "distance": 0.55 - 0.05 * a + 0.01 * rng.normal()})
    return pd.DataFrame(rows)


def test_distance_vs_accuracy_shows_negative_accuracies_and_labels_references(rng):
    t = _training_table(rng)
    base = {"condition average": 0.484, "split-half ceiling": (0.403, 0.024)}
    fig = plot.distance_vs_accuracy(t, baselines=base, levels=[-0.5, 0.9])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < t["accuracy"].min() < 0 and t["accuracy"].max() < x1
    assert y0 < min(t["distance"].min(), 0.403 - 0.024) and max(t["distance"].max(), 0.484) < y1
    assert len(ax.lines) >= 6  # one line per run, plus the references
    labels = [tx.get_text() for tx in fig.legends[0].get_texts()]
    assert any("condition average: 0.484" in s for s in labels)
    assert any("split-half ceiling: 0.403 ± 0.024" in s for s in labels)
    assert "bptt" in labels and "eprop" in labels
    assert {tx.get_text() for tx in ax.texts} >= {"-0.5", "0.9"}  # the level lines carry their values
    assert "accuracy -0.5, 0.9" in labels  # and the legend lists them (also when they are too close to label)
    assert "Procrustes distance" in ax.get_ylabel() and "π/2" in ax.get_ylabel()
    assert "1 − normalized MSE" in ax.get_xlabel()
    _assert_legend_off_axes(fig, fig.legends[0])
    assert min(_all_fontsizes(fig)) >= 8


def test_distance_vs_accuracy_panels_styles_and_matched_points(rng):
    t = _training_table(rng)
    t["g0"] = np.where(t["seed"] == 0, 1.0, 1.5)
    t["run"] = t["rule"] + "-" + t["seed"].astype(str)
    matched = pd.DataFrame({"rule": ["bptt", "eprop"], "accuracy": [0.9, 0.9], "distance": [0.3, 0.7]})
    fig = plot.distance_vs_accuracy(t, col="rule", style="g0", matched=matched)
    axes = [ax for ax in fig.axes]
    assert [ax.get_title() for ax in axes] == ["bptt", "eprop"]
    for ax in axes:
        y0, y1 = ax.get_ylim()
        assert y0 < 0.3 and 0.7 < y1  # the matched points are inside too
    labels = [tx.get_text() for tx in fig.legends[0].get_texts()]
    assert "line style: g0 = 1" in labels and "line style: g0 = 1.5" in labels and "matched checkpoints" in labels
    _assert_legend_off_axes(fig, fig.legends[0])
    # one gain: no line-style entry (it would look like the solid ceiling line)
    one = plot.distance_vs_accuracy(t[t["g0"] == 1.0], col="rule", style="g0")
    assert not [tx.get_text() for tx in one.legends[0].get_texts() if tx.get_text().startswith("line style")]


def test_distance_vs_accuracy_refuses_bad_tables(rng):
    t = _training_table(rng)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['distance'\]"):
        plot.distance_vs_accuracy(t.drop(columns="distance"))
    with pytest.raises(TypeError, match="DataFrame"):
        plot.distance_vs_accuracy(t.to_dict())
    with pytest.raises(ValueError, match="no rows"):
        plot.distance_vs_accuracy(t.iloc[:0])
    with pytest.raises(ValueError, match=r"number, \(mean, sd\) or \(value, low, high\)"):
        plot.distance_vs_accuracy(t, baselines={"ceiling": (1, 2, 3, 4)})


def test_save_figure_writes_png_atomically(tmp_path, rng):
    fig = plot.rdm_heatmap(pdist(rng.normal(size=(4, 3))))
    p = plot.save_figure(fig, tmp_path / "rdm.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["rdm.png"]


# --------------------------------------------------------------------------- the 2025 pipeline's figures
_BASE = {"ceiling": 0.415, "ceiling_ci_low": 0.362, "ceiling_ci_high": 0.457, "condition_average": 0.522}


def _pipeline_tables(rng):
    rows, matched = [], []
    for rule in ("bptt", "eprop", "eprop-random"):
        for g0 in (0.5, 1.5):
            for seed in range(3):
                run = f"{rule}_g{g0}_s{seed}"
                acc = np.array([-2.1, -0.5, 0.5, 0.85, 0.92, 0.97])
                dist = 0.5 + 0.01 * rng.normal(size=acc.size)
                rows += [{"run": run, "rule": rule, "seed": seed, "g0": g0, "step": s, "accuracy": a, "distance": d}
                         for s, a, d in zip([0, 5, 20, 50, 100, 200], acc, dist)]
                matched += [{"run": run, "rule": rule, "seed": seed, "g0": g0, "level": lv, "reached": True,
                             "accuracy": a, "distance": d} for lv, a, d in zip((0.8, 0.9, 0.95), acc[3:], dist[3:])]
    eff = pd.DataFrame({"level": [0.8, 0.9, 0.95], "eta_sq_rule": 0.1, "eta_sq_g0": 0.2, "eta_sq_seed": 0.3,
                        "eta_sq_residual": 0.4})
    return pd.DataFrame(rows), pd.DataFrame(matched), eff


def test_pipeline_distance_figure_shows_early_training_and_labels_references(rng):
    training, matched, _ = _pipeline_tables(rng)
    fig = plot.plot_distance_along_training(training, matched, _BASE, (0.8, 0.9, 0.95))
    for ax in fig.axes:
        assert ax.get_xlim()[0] < -2.1 and ax.get_ylim()[0] < 0.362 and ax.get_ylim()[1] > 0.522
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(s.startswith("split-half ceiling: 0.415") for s in labels)
    assert any(s.startswith("condition-average baseline: 0.522") for s in labels)
    assert "accuracy 0.8, 0.9, 0.95" in labels
    _assert_legend_off_axes(fig, fig.legends[0])


def test_rule_vs_init_legends_stay_off_the_ceiling_band_and_units_are_named(rng):
    training, matched, eff = _pipeline_tables(rng)
    fig = plot.plot_matched_distances(training, matched, eff, _BASE, (0.8, 0.9, 0.95))
    ax1, ax2 = fig.axes
    assert "angle / (π/2)" in ax1.get_ylabel() and "η²" in ax2.get_ylabel()
    y0, y1 = ax1.get_ylim()
    assert y0 <= 0.362 and 0.522 <= y1
    for ax in (ax1, ax2):
        _assert_legend_off_axes(fig, ax.get_legend())
    assert min(_all_fontsizes(fig)) >= 8


def test_model_distances_has_group_labels_and_no_data_reference(rng):
    import xarray as xr

    rules = np.repeat(["bptt", "eprop", "eprop-random"], 10)
    g0 = np.tile(np.repeat([0.5, 1.5], 5), 3)
    names = [f"{r}_g{g}_s{i % 5}" for i, (r, g) in enumerate(zip(rules, g0))]
    P = rng.normal(size=(30, 3))
    D = xr.DataArray(squareform(pdist(P)) / 10, dims=("network", "network_b"),
                     coords={"network": names, "network_b": names, "rule": ("network", rules), "g0": ("network", g0)},
                     attrs={"level": 0.8})
    fig = plot.plot_model_distances(D)
    ax1, ax2 = fig.axes[0], fig.axes[1]
    ticks = [t.get_text() for t in ax1.get_yticklabels()]
    assert ticks == ["bptt, g0 = 0.5", "bptt, g0 = 1.5", "eprop, g0 = 0.5", "eprop, g0 = 1.5",
                     "eprop-random, g0 = 0.5", "eprop-random, g0 = 1.5"]
    assert min(_all_fontsizes(fig)) >= 8
    # no data ceiling or condition-average line on a model-model axis, no legend over the points
    assert ax2.get_legend() is None and not fig.legends
    assert all("ceiling" not in t.get_text() and "condition average" not in t.get_text() for t in ax2.texts)
    assert all(len(set(np.asarray(line.get_xdata(), float))) == 1 and len(line.get_xdata()) == 2
               and np.ptp(line.get_ydata()) < 1 for line in ax2.lines)  # only the short group-mean bars
    x0, x1 = ax2.get_xlim()
    upper = D.values[np.triu_indices(30, 1)]
    assert x0 < upper.min() and upper.max() < x1
    with pytest.raises(ValueError, match="'rule' and 'g0' coordinates"):
        plot.plot_model_distances(D.drop_vars("g0"))


def test_trajectories_grid_fits_each_model_on_the_data_axes(rng):
    data = _reach(rng)
    Q = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    rotated = data.copy(data=data.values @ Q)
    other = _reach(np.random.default_rng(9), n_units=20)
    models = {("init", "bptt"): other, ("trained", "bptt"): rotated, ("init", "eprop"): other,
              ("trained", "eprop"): rotated}
    fig = plot.trajectories_grid(models, data, window=(-50, 100), alignment="0 ms = movement onset")
    d = fig.neurosim["distances"]
    assert d[("trained", "bptt")] < 1e-6 and d[("init", "eprop")] > 0.05
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 3  # the data open each of the 2 rows, then one panel per model
    titles = [ax.get_title() for ax in panels]
    assert sum("distance" in t for t in titles) == 4 and "bptt\ninit: distance" in titles[2]
    assert len({ax.get_xlim() for ax in panels}) == 1  # one shared view
    assert min(_all_fontsizes(fig)) >= 8
    with pytest.raises(ValueError, match="non-empty dict"):
        plot.trajectories_grid({}, data)
    with pytest.raises(TypeError, match=r"models\[\('init', 'bptt'\)\]"):
        plot.trajectories_grid({("init", "bptt"): other.values}, data)


def test_many_categorical_conditions_get_a_colorbar_not_a_giant_legend(rng):
    X = rng.normal(size=(30, 6, 5))
    da = trajectories(X, conditions=[f"c{i}" for i in range(30)], time=np.arange(6) * 10.0)
    fig = plot.trajectories_in_pcs(da, da, n_components=2)
    assert not fig.legends
    cbar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0]
    assert "30 conditions" in cbar.get_ylabel() and cbar.get_yticklabels()[0].get_text() == "c0"
