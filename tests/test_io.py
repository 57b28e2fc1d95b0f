"""netCDF round trips (labels, MultiIndex, attrs) and atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

from neurosim import io as nio
from neurosim.trajectories import trajectories
from _signals import default_sigint  # noqa: E402 (tests/ is on sys.path)


def _traj():
    rng = np.random.default_rng(0)
    return trajectories(
        rng.normal(size=(4, 5, 3)),
        conditions={"context": ["motion", "motion", "color", "color"], "coherence": [0.5, -0.5, 0.5, -0.5]},
        time=np.arange(5) * 10.0,
        attrs={"rule": "eprop", "seed": 7, "lr": 3e-4, "dale": False, "note": None,
               "sizes": [200, 3], "names": ["a", "b"], "shape": (1, 2), "one": [5], "arr": np.array([0.5, 1.5])},
    )


def test_dataarray_roundtrip_multiindex_and_attrs(tmp_path):
    da = _traj()
    da.name = "activity"
    back = nio.load(nio.save(da, tmp_path / "a.nc"))
    assert isinstance(back, xr.DataArray)
    xr.testing.assert_identical(back, da)
    idx = back.indexes["condition"]
    assert list(idx.names) == ["context", "coherence"]
    assert back.sel(context="color", coherence=-0.5).shape == (5, 3)
    a = back.attrs
    assert a["dale"] is False and a["note"] is None and a["seed"] == 7 and type(a["seed"]) is int
    assert a["sizes"] == [200, 3] and a["names"] == ["a", "b"] and a["shape"] == (1, 2) and a["one"] == [5]
    assert isinstance(a["arr"], np.ndarray) and a["arr"].tolist() == [0.5, 1.5]
    assert back["time"].attrs["units"] == "ms"


def test_dataset_roundtrip_with_provenance(tmp_path):
    ds = xr.Dataset({"loss": ("step", [1.0, 0.5, 0.25]), "W": (("i", "j"), np.eye(2))},
                    coords={"step": [0, 10, 20]}, attrs={"rule": "bptt", "converged": True})
    ds["loss"].attrs["units"] = "mse"
    back = nio.load(nio.save(ds, tmp_path / "ckpt.nc"))
    assert isinstance(back, xr.Dataset)
    assert back.attrs["converged"] is True and back.attrs["rule"] == "bptt"
    assert back.attrs["neurosim_version"] and back.attrs["saved_utc"]
    assert back["loss"].attrs == {"units": "mse"}
    xr.testing.assert_equal(back, ds)


def test_nested_attrs_are_refused_with_advice(tmp_path):
    da = _traj()
    da.attrs["config"] = {"g0": 1.0}
    with pytest.raises(TypeError, match="json.dumps"):
        nio.save(da, tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()
    assert list(tmp_path.iterdir()) == []
    da.attrs["config"] = "a\x00b"
    with pytest.raises(ValueError, match="NUL"):
        nio.save(da, tmp_path / "x.nc")
    with pytest.raises(TypeError, match="DataArray or Dataset"):
        nio.save(np.zeros(3), tmp_path / "y.nc")


def test_crash_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "run.nc"
    old = _traj()
    nio.save(old, path)
    before = path.read_bytes()

    def crash(self, target, *args, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"CDF\x01 half a file")  # a partial write, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(KeyboardInterrupt):
        nio.save(old * 2, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]
    xr.testing.assert_identical(nio.load(path), old)


def test_overwrite_replaces_and_load_closes_file(tmp_path):
    path = tmp_path / "x.nc"
    a = _traj()
    nio.save(a, path)
    loaded = nio.load(path)  # must not hold the file open
    nio.save(a + 1, path)
    np.testing.assert_allclose(nio.load(path).values, loaded.values + 1)
    with pytest.raises(FileNotFoundError):
        nio.load(tmp_path / "missing.nc")
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert os.access(path, os.R_OK)


def test_saved_files_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = nio.save(xr.DataArray(np.arange(3.0), dims="x"), tmp_path / "a.nc")
        with nio.atomic_path(tmp_path / "b.txt") as tmp:
            tmp.write_text("b")
    finally:
        os.umask(old)
    assert (os.stat(path).st_mode & 0o777) == 0o644
    assert (os.stat(tmp_path / "b.txt").st_mode & 0o777) == 0o644


from hypothesis import given, settings, strategies as st  # noqa: E402

_scalar = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8),
    st.integers(-2**62, 2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_attr = st.one_of(
    _scalar,
    st.lists(st.integers(-1000, 1000), max_size=4),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4).map(tuple),
    st.lists(st.text(alphabet="abc", min_size=1, max_size=3), min_size=1, max_size=3),
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(attrs=st.dictionaries(st.text(alphabet="abcdefgh", min_size=1, max_size=6), _attr, max_size=5))
def test_supported_attrs_roundtrip_exactly(tmp_path_factory, attrs):
    da = trajectories(np.zeros((1, 2, 1)), time=[0.0, 1.0], attrs=attrs)
    back = nio.load(nio.save(da, tmp_path_factory.mktemp("h") / "a.nc"))
    assert set(back.attrs) == set(attrs)
    for k, v in attrs.items():
        assert back.attrs[k] == v and type(back.attrs[k]) is type(v), (k, v, back.attrs[k])


# ----------------------------------------------------------------------------- data safety
_BIG_WRITER = """
import sys, time, numpy as np, xarray as xr
from neurosim import io
real = xr.Dataset.to_netcdf

def slow_to_netcdf(self, path, *args, **kwargs):
    # the real write of 32 MB, then a long stall with the temporary file open and on disk: the
    # interrupt always arrives mid-write, however fast the machine (a deterministic stand-in for a
    # large, slow write)
    real(self, path, *args, **kwargs)
    print("writing", flush=True)
    time.sleep(60)

xr.Dataset.to_netcdf = slow_to_netcdf
da = xr.DataArray(np.ones((16, 512, 512)), dims=("a", "b", "c"))
print("ready", flush=True)
io.save(da, sys.argv[1])
print("finished", flush=True)
"""


def test_ctrl_c_during_a_large_save_ends_promptly_and_removes_the_temp_file(tmp_path):
    """Ctrl-C mid-write used to hang in xarray's close path, holding a huge temporary file."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    target = tmp_path / "big.nc"
    old = nio.save(xr.DataArray([1.0, 2.0], dims="i"), target).read_bytes()
    repo = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-c", _BIG_WRITER, str(target)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(repo)},
                         preexec_fn=default_sigint)
    assert p.stdout.readline().strip() == "ready"
    assert p.stdout.readline().strip() == "writing"        # the temporary file exists and is open
    assert any(q.name.endswith(".tmp") for q in tmp_path.iterdir())
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("the process hung after Ctrl-C")
    assert "finished" not in out
    assert "KeyboardInterrupt" in err and time.monotonic() - t0 < 30
    assert sorted(q.name for q in tmp_path.iterdir()) == ["big.nc"]  # no temporary file
    assert target.read_bytes() == old                                  # the old file is intact


def test_stale_temp_files_are_swept_only_when_their_writer_is_gone(tmp_path):
    target = tmp_path / "run.nc"
    dead = tmp_path / ".run.nc.999999999.0badf00d.tmp"      # pid that cannot exist
    mine = tmp_path / f".run.nc.{os.getpid()}.0c0ffee0.tmp" # a live writer (this process)
    legacy = tmp_path / ".run.nc.x7k2q9_a.tmp"              # mkstemp-style name, older than this process
    other = tmp_path / ".other.nc.999999999.0badf00d.tmp"   # another target: not ours to touch
    sibling = tmp_path / ".run.nc.bak.999999999.0badf00d.tmp"  # the temp file of "run.nc.bak"
    unrelated = tmp_path / "notes.tmp"
    for f in (dead, mine, legacy, other, sibling, unrelated):
        f.write_bytes(b"\0" * 10)
    os.utime(legacy, (1, 1))
    nio.save(xr.DataArray([1.0], dims="i"), target)
    assert sorted(q.name for q in tmp_path.iterdir()) == sorted(
        [target.name, mine.name, other.name, sibling.name, unrelated.name])


def test_atomic_directory_replaces_the_whole_folder_or_nothing(tmp_path):
    out = tmp_path / "results"
    with nio.atomic_directory(out, run_id="A") as stage:
        (stage / "results.csv").write_text("A\n")
        (stage / "report.md").write_text("A\n")
        (stage / "figs").mkdir()
        (stage / "figs" / "f.png").write_bytes(b"png")
    assert nio.check_manifest(out)["files"]["figs/f.png"]["run_id"] == "A"
    # a failure half-way leaves the old folder exactly as it was and no staging folder
    with pytest.raises(RuntimeError, match="boom"):
        with nio.atomic_directory(out, run_id="B") as stage:
            (stage / "results.csv").write_text("B\n")
            raise RuntimeError("boom")
    assert (out / "results.csv").read_text() == "A\n" and nio.check_manifest(out)["run_id"] == "A"
    assert sorted(q.name for q in tmp_path.iterdir()) == [".results.lock", "results"]
    # success replaces everything: files of the old run do not survive beside the new ones
    with nio.atomic_directory(out, run_id="C") as stage:
        (stage / "results.csv").write_text("C\n")
    assert sorted(q.name for q in out.iterdir()) == ["MANIFEST.json", "results.csv"]
    assert nio.check_manifest(out)["run_id"] == "C"
    assert sorted(q.name for q in tmp_path.iterdir()) == [".results.lock", "results"]


def test_atomic_directory_sweeps_what_a_killed_writer_left(tmp_path):
    out = tmp_path / "results"
    with nio.atomic_directory(out, run_id="A") as stage:
        (stage / "a.txt").write_text("A")
    # killed while staging: a staging folder of a dead process
    (tmp_path / ".results.staging-999999999.0badf00d").mkdir()
    (tmp_path / ".results.staging-999999999.0badf00d" / "big.bin").write_bytes(b"\0" * 100)
    # killed between the two renames: the old folder is aside and `results` is missing
    os.replace(out, tmp_path / ".results.old-999999999.0badf00d")
    assert nio.sweep_stale(out) == [tmp_path / ".results.staging-999999999.0badf00d"]
    assert (out / "a.txt").read_text() == "A" and nio.check_manifest(out)["run_id"] == "A"
    assert sorted(q.name for q in tmp_path.iterdir()) == [".results.lock", "results"]


def test_ctrl_c_inside_atomic_directory_keeps_the_old_folder(tmp_path):
    out = tmp_path / "res"
    with nio.atomic_directory(out, run_id="A") as stage:
        (stage / "x").write_text("A")
    with pytest.raises(KeyboardInterrupt):
        with nio.atomic_directory(out, run_id="B") as stage:
            (stage / "x").write_text("B")
            raise KeyboardInterrupt
    assert (out / "x").read_text() == "A"
    assert sorted(q.name for q in tmp_path.iterdir()) == [".res.lock", "res"]
