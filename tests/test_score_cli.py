"""`neurosim score`: the same numbers as the Python API (distance_to_data on a matched checkpoint,
compare on arrays and NWB files), one-line errors with exit status 2 and nothing written on error."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest

from neurosim import compare, datasets, rnn
from neurosim.cli import main
from neurosim.experiments import distance_to_data
from neurosim.matching import match_accuracy


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    task = rnn.tasks.make("center-out")
    model = rnn.LeakyRNN(task.n_in, 16, task.n_out, seed=0)
    path = tmp_path_factory.mktemp("run") / "run.nc"
    rnn.train(model, task, steps=30, lr=3e-3, batch_size=8, checkpoints=8, out=path, progress=False)
    return path


def _score(argv, capsys):
    status = main(["score", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_run_at_matched_level_equals_distance_to_data(run_file, tmp_path, capsys):
    run = rnn.load_run(run_file)
    level = float(run.checkpoints["accuracy"].iloc[4])  # reached first at a middle checkpoint
    step = int(match_accuracy(run, level)["step"].iloc[0])
    expected = float(distance_to_data(run.model(step), run.task, datasets.load("hatsopoulos2007"),
                                      alignment="liu2025"))
    out = tmp_path / "r.json"
    status, text, err = _score([run_file, "hatsopoulos2007", "--level", level, "--alignment", "liu2025",
                                "--out", out], capsys)
    assert status == 0, err
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and rows[0]["step"] == step and rows[0]["lag"] == -320.0
    assert abs(rows[0]["distance"] - expected) < 1e-12
    assert rows[0]["metric"] == "procrustes" and rows[0]["window"] == "all" and "run.nc" in text
    # --step N and the last checkpoint
    status, _, _ = _score([run_file, "hatsopoulos2007", "--step", 0, "--lag", -100, "--out", tmp_path / "s.csv"],
                          capsys)
    row = pd.read_csv(tmp_path / "s.csv").iloc[0]
    exp0 = distance_to_data(run.model(0), run.task, datasets.load("hatsopoulos2007"), alignment=-100.0)
    assert status == 0 and abs(row["distance"] - float(exp0)) < 1e-12


def _nwb_session(path, seed=0):
    pynwb = pytest.importorskip("pynwb")
    rng = np.random.default_rng(seed)
    nwb = pynwb.NWBFile(session_description="synthetic", identifier="score-test",
                        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    nwb.add_trial_column(name="direction", description="reach direction")
    nwb.add_trial_column(name="go", description="go cue (s)")
    for i in range(16):
        nwb.add_trial(start_time=2.0 * i + 0.5, stop_time=2.0 * i + 1.9, direction=[0, 90, 180, 270][i % 4],
                      go=2.0 * i + 1.0)
    for k in range(6):
        rate = 10.0 + 5 * k
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 33.0, rng.poisson(rate * 33.0))))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


NWB_OPTS = ["--condition", "direction", "--align-to", "go", "--span", "-200", "400", "--bin-ms", "20",
            "--smooth-ms", "40"]


def test_arrays_against_nwb_equal_the_python_api(tmp_path, capsys):
    nwb = _nwb_session(tmp_path / "s.nwb")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 30, 5)), rng.normal(size=(30, 4, 7))  # b is (time, condition, unit)
    np.savez(tmp_path / "a.npz", rates=a)
    np.save(tmp_path / "b.npy", b.transpose(1, 0, 2))
    out = tmp_path / "t.csv"
    status, text, err = _score([tmp_path / "a.npz", tmp_path / "b.npy", nwb, "--dims", "condition,time,unit",
                                *NWB_OPTS, "--out", out, "--bootstrap", 50, "--seed", 3], capsys)
    assert status == 0, err
    data = datasets.from_nwb(nwb, condition="direction", align_to="go", window=(-200, 400), bin_ms=20, smooth_ms=40)
    table = pd.read_csv(out)
    assert table["model"].tolist() == [str(tmp_path / "a.npz"), str(tmp_path / "b.npy")]
    for arr, row in zip((a, b.transpose(1, 0, 2)), table.itertuples()):
        s = compare(arr, data, "procrustes", dims=("condition", "time", "unit"), normalize=True, bootstrap=50, seed=3)
        assert abs(row.distance - s.value) < 1e-12
        assert abs(row.ci_low - s.ci[0]) < 1e-12 and abs(row.ci_high - s.ci[1]) < 1e-12
    assert {"model", "distance", "metric", "window", "lag"} <= set(table.columns)


@pytest.mark.parametrize("extra,message", [
    (["--dims", "condition,time"], "has 3 axes (shape (4, 30, 5)) but --dims names 2"),
    (["--dims", "condition,time,unit", "--condition", "target"], "condition='target' is not a column"),
    (["--dims", "condition,time,unit", "--span", "-800", "400"], "runs outside 16 of 16 trials"),
    (["--dims", "condition,time,unit", "--alignment", "liu2025"], "--alignment needs a run file"),
    (["--dims", "condition,time,unit", "--level", "0.5"], "--step and --level select a checkpoint"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, extra, message):
    nwb = _nwb_session(tmp_path / "s.nwb")
    np.savez(tmp_path / "a.npz", rates=np.random.default_rng(0).normal(size=(4, 30, 5)))
    out = tmp_path / "never.json"
    opts = [*NWB_OPTS]
    for flag in ("--condition", "--span"):
        if flag in extra:  # the test's value replaces the default one
            i = opts.index(flag)
            del opts[i:i + (3 if flag == "--span" else 2)]
    status, _, err = _score([tmp_path / "a.npz", nwb, *opts, *extra, "--out", out], capsys)
    assert status == 2 and message in err and err.count("\n") == 1 and err.startswith("neurosim score: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "s.nwb"]  # no output, no temporary file


def test_spike_outside_session_is_an_error(tmp_path, capsys):
    pynwb = pytest.importorskip("pynwb")
    nwb = pynwb.NWBFile(session_description="x", identifier="x",
                        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    nwb.add_trial_column(name="direction", description="d")
    nwb.add_trial_column(name="go", description="g")
    for i in range(4):
        nwb.add_trial(start_time=2.0 * i + 0.5, stop_time=2.0 * i + 1.9, direction=i, go=2.0 * i + 1.0)
    nwb.add_unit(spike_times=[-1.0, 1.1, 3.2])
    with pynwb.NWBHDF5IO(str(tmp_path / "bad.nwb"), "w") as io:
        io.write(nwb)
    status, _, err = _score(["hatsopoulos2007", tmp_path / "bad.nwb", *NWB_OPTS], capsys)
    assert status == 2 and "outside the session" in err and err.count("\n") == 1


def test_usage_errors(tmp_path, run_file, capsys):
    status, _, err = _score([run_file, "no-such-dataset"], capsys)
    assert status == 2 and "not a dataset name" in err
    status, _, err = _score([run_file, "hatsopoulos2007", "--out", tmp_path / "x.txt"], capsys)
    assert status == 2 and "--out must end in .csv or .json" in err
    status, _, err = _score([run_file, "hatsopoulos2007", "--level", 1.0], capsys)
    assert status == 2 and "never reaches accuracy 1" in err
    status, _, err = _score([run_file, "hatsopoulos2007", "--alignment", "late"], capsys)
    assert status == 2 and "--alignment must be one of liu2025, onset" in err
    status, _, err = _score([tmp_path / "a.npz", "hatsopoulos2007"], capsys)
    assert status == 2 and "no such file" in err


def test_trajectory_files_netcdf_and_zarr(tmp_path, capsys):
    import xarray as xr

    from neurosim import io, trajectories

    m1 = datasets.load("hatsopoulos2007")["rates"]
    rng = np.random.default_rng(2)
    model = trajectories(rng.normal(size=(8, 121, 9)), conditions=m1.condition.values[::-1], time=m1.time.values)
    io.save(model, tmp_path / "model.nc")
    expected = compare(model, m1, normalize=True, window=(-600, 400), lag=10.0)
    status, _, err = _score([tmp_path / "model.nc", "hatsopoulos2007", "--window", "-600", "400", "--lag", 10,
                             "--out", tmp_path / "m.json"], capsys)
    assert status == 0, err
    assert abs(json.loads((tmp_path / "m.json").read_text())[0]["distance"] - expected.value) < 1e-12
    io.save(xr.Dataset({"other": model}), tmp_path / "ds.nc")
    status, _, err = _score([tmp_path / "ds.nc", "hatsopoulos2007"], capsys)
    assert status == 2 and "without a 'rates' variable" in err


def test_zarr_trajectory(tmp_path, capsys):
    pytest.importorskip("zarr")
    from neurosim import trajectories

    m1 = datasets.load("hatsopoulos2007")["rates"]
    model = trajectories(np.random.default_rng(2).normal(size=(8, 121, 9)), conditions=m1.condition.values,
                         time=m1.time.values)
    expected = compare(model, m1, normalize=True, window=(-600, 400), lag=10.0)
    model.to_dataset(name="rates").to_zarr(tmp_path / "model.zarr")
    status, text, err = _score([tmp_path / "model.zarr", "hatsopoulos2007", "--window", "-600", "400", "--lag",
                                10], capsys)
    assert status == 0, err
    assert f"{expected.value:.6g}" in text


def test_several_models_give_the_paired_differences_of_compare_models(tmp_path, capsys):
    import neurosim

    rng = np.random.default_rng(3)
    data = rng.normal(size=(6, 10, 8))
    models = {name: data + rng.normal(scale=s, size=data.shape) for name, s in (("near", 0.3), ("far", 1.5))}
    for name, array in models.items():
        np.save(tmp_path / f"{name}.npy", array)
    np.save(tmp_path / "data.npy", data)
    out = tmp_path / "t.csv"
    status, text, err = _score([tmp_path / "near.npy", tmp_path / "far.npy", tmp_path / "data.npy",
                                "--dims", "condition,time,unit", "--bootstrap", 50, "--permutations", 20,
                                "--margin", 0.05, "--out", out], capsys)
    assert status == 0, err
    assert "paired differences" in text
    expected = neurosim.compare_models(
        {"near.npy": models["near"], "far.npy": models["far"]}, data, metric="procrustes", normalize=True,
        bootstrap=50, permutations=20, margin=0.05, seed=0, dims=("condition", "time", "unit")).differences
    got = pd.read_csv(tmp_path / "t-differences.csv")
    assert len(got) == len(expected) == 2
    for column in ("difference", "ci_low", "ci_high", "p_value", "p_equivalence"):
        assert np.allclose(got[column], expected[column], atol=1e-12, equal_nan=True), column
    assert got["difference"].iloc[0] < 0  # the near model is closer
    # a margin needs two models
    status, _, err = _score([tmp_path / "near.npy", tmp_path / "data.npy", "--dims", "condition,time,unit",
                             "--margin", 0.05], capsys)
    assert status == 2 and "--margin" in err and len(err.strip().splitlines()) == 1


def test_dims_without_a_plain_array_is_refused(run_file, capsys):
    status, out, err = _score([run_file, "hatsopoulos2007", "--dims", "condition,time,unit"], capsys)
    assert status == 2 and "--dims" in err and len(err.strip().splitlines()) == 1 and out == ""
