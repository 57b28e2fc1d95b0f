"""Dataset registry, search order, verified fetch (against a local HTTP server), loaders, safe pickle."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import pickle
import shutil
import threading

import numpy as np
import pytest
from numpy.lib import format as npy_format

from neurosim import datasets
from neurosim.cli import main as cli_main
from neurosim.datasets import RestrictedUnpickler, load_npy

HATS = "hatsopoulos2007_m1_center_out"
NPY = "data_output_aligntomovementonset_minT-800_maxT400_FRsmoothSD25ms.npy"
EMB = "hatsopoulos2007_m1_center_out.npz"


@pytest.fixture
def server(data_root):
    """An HTTP server on 127.0.0.1 (ephemeral port) serving the shared data folder."""
    handler = functools.partial(_QuietHandler, directory=str(data_root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_registry_matches_files_on_disk(data_root):
    for name in datasets.names():
        info = datasets.get(name)
        for f in info.files:
            p = data_root / info.folder / f.name
            assert p.stat().st_size == f.size
            assert hashlib.sha256(p.read_bytes()).hexdigest() == f.sha256
            if f.url is not None:
                assert f.url.startswith("https://raw.githubusercontent.com/") and f.url.endswith(f.name)
    with pytest.raises(ValueError, match="did you mean 'churchland2012_tme'"):
        datasets.get("churchland2012")


def test_hatsopoulos_contract(isolated):
    """The embedded copy (what every user gets) against the documented contract."""
    ds = datasets.load("hatsopoulos2007")
    assert datasets.find("hatsopoulos2007").parent == datasets.embedded_dir()
    r = ds["rates"]
    assert r.dims == ("condition", "time", "unit") and r.shape == (8, 121, 141)
    assert r.dtype == np.float64
    assert ds["condition"].values.tolist() == list(range(0, 360, 45))
    np.testing.assert_array_equal(ds["direction"].values, np.arange(0.0, 360.0, 45.0))
    np.testing.assert_array_equal(ds["time"].values, np.arange(-800.0, 401.0, 10.0))
    assert ds["time"].attrs == {"units": "ms", "alignment": "movement onset"}
    assert ds["unit"].values.tolist() == list(range(141))
    for v in ("shoulder_angle", "elbow_angle", "hand_x", "hand_y", "hand_vx", "hand_vy"):
        assert ds[v].dims == ("condition", "time")
        assert np.all(ds[v].sel(time=-800.0).values == 0)  # README: 0 at -800 ms
    assert np.isclose(max(abs(ds[v]).max() for v in ("hand_x",)), 1.0)
    # values against an independent read of the file (plain numpy); the raw .npy release loads
    # to the identical Dataset (test_embedded_file_matches_the_raw_release, when it is present)
    with np.load(datasets.embedded_dir() / EMB, allow_pickle=False) as f:
        raw = dict(f)
    np.testing.assert_array_equal(r.sel(condition=90).values, raw["firing_rate"][:, :, 2].T)
    np.testing.assert_array_equal(ds["elbow_angle"].values, raw["elbowangle"])
    np.testing.assert_array_equal(ds["movement_duration_median"].values, raw["time_startmovement_to_endmovement_median"])
    # polar angle of the hand at +400 ms follows the direction labels (README check)
    ang = np.degrees(np.arctan2(ds["hand_y"].sel(time=400.0), ds["hand_x"].sel(time=400.0))) % 360
    assert np.all(np.abs((ang - ds["direction"] + 180) % 360 - 180) < 15)


def test_search_order_and_accepted_paths(data_root, isolated, monkeypatch):
    folder = data_root / HATS
    assert datasets.find("hatsopoulos2007", data_root).name == NPY  # canonical preferred
    assert datasets.find("hatsopoulos2007", folder).name == NPY
    npz = folder / "hatsopoulos2007_m1_center_out.npz"
    assert datasets.find("hatsopoulos2007", npz) == npz
    a = datasets.load("hatsopoulos2007", npz)
    b = datasets.load("hatsopoulos2007", folder)
    assert a.drop_attrs().identical(b.drop_attrs())
    # nothing in $NEUROSIM_DATA or the cache: the M1 set comes from the package, the others
    # say how to get the data
    emb = datasets.find("hatsopoulos2007")
    assert emb.parent == datasets.embedded_dir() and emb.name == "hatsopoulos2007_m1_center_out.npz"
    assert datasets.load("hatsopoulos2007").drop_attrs().identical(b.drop_attrs())
    with pytest.raises(FileNotFoundError, match=r"neurosim datasets fetch churchland2012_tme[\s\S]*NEUROSIM_DATA"):
        datasets.load("churchland2012_tme")
    with pytest.raises(FileNotFoundError) as err:
        datasets.find("kriegeskorte2008")
    assert "embedded" not in str(err.value)  # only the M1 file is shipped
    monkeypatch.setenv("NEUROSIM_DATA", str(data_root))
    assert datasets.find("churchland2012_tme").parent.name == "churchland2012_m1_reach_tme"
    # an explicit path that lacks the data is an error, not a silent fallback to $NEUROSIM_DATA
    with pytest.raises(FileNotFoundError):
        datasets.find("churchland2012_tme", data_root / HATS)


def test_fetch_from_local_server_verifies_and_caches(data_root, isolated, server, monkeypatch):
    httpd, url = server
    path = datasets.fetch("churchland2012_tme", base_url=url)
    assert path == isolated / "churchland2012_m1_reach_tme" / "exampleData.mat"
    assert path.read_bytes() == (data_root / "churchland2012_m1_reach_tme" / "exampleData.mat").read_bytes()
    ds = datasets.load("churchland2012_tme")  # found in the cache now
    assert ds["rates"].shape == (10, 61, 50)
    assert ds["time"].values[[0, -1]].tolist() == [-50.0, 550.0]
    assert datasets.verify("churchland2012_tme") == {"exampleData.mat": "ok"}
    # the mirror can also come from $NEUROSIM_DATA_URL; force re-downloads
    monkeypatch.setenv("NEUROSIM_DATA_URL", url)
    mtime = path.stat().st_mtime_ns
    assert datasets.fetch("churchland2012_tme", force=True) == path
    assert path.stat().st_mtime_ns >= mtime
    assert sorted(p.name for p in path.parent.iterdir()) == ["exampleData.mat"]  # no temp files


def test_corrupted_download_is_rejected_and_nothing_cached(data_root, isolated, tmp_path, server):
    mirror = tmp_path / "mirror" / "churchland2012_m1_reach_tme"
    mirror.mkdir(parents=True)
    good = (data_root / "churchland2012_m1_reach_tme" / "exampleData.mat").read_bytes()
    bad = bytearray(good)
    bad[1000] ^= 0xFF  # same size, one flipped byte
    (mirror / "exampleData.mat").write_bytes(bytes(bad))
    handler = functools.partial(_QuietHandler, directory=str(tmp_path / "mirror"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ValueError, match="failed verification"):
            datasets.fetch("churchland2012_tme", base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()
    target = isolated / "churchland2012_m1_reach_tme"
    assert not target.exists() or list(target.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        datasets.find("churchland2012_tme")


def test_corrupt_local_copy_fails_checksum(data_root, isolated, tmp_path):
    folder = tmp_path / "data" / "churchland2012_m1_reach_tme"
    folder.mkdir(parents=True)
    src = (data_root / "churchland2012_m1_reach_tme" / "exampleData.mat").read_bytes()
    (folder / "exampleData.mat").write_bytes(src[:-1] + bytes([src[-1] ^ 1]))
    with pytest.raises(ValueError, match="fails its checksum"):
        datasets.load("churchland2012_tme", tmp_path / "data")
    assert datasets.verify("churchland2012_tme", tmp_path / "data")["exampleData.mat"].startswith("bad")


def test_cli_fetch_and_verify(data_root, isolated, server, capsys, tmp_path):
    _, url = server
    dest = tmp_path / "dl"
    assert cli_main(["datasets", "fetch", "hatsopoulos2007", "--dest", str(dest), "--base-url", url]) == 0
    assert (dest / HATS / NPY).is_file()
    assert cli_main(["datasets", "verify", "hatsopoulos2007", "--path", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"hatsopoulos2007/{NPY}: ok" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["datasets", "verify", "kriegeskorte2008", "--path", str(empty)]) == 1  # named, not there
    # a --path that does not exist is a usage error (one line, exit status 2), not a silent search elsewhere
    capsys.readouterr()
    assert cli_main(["datasets", "verify", "--path", str(tmp_path / "nowhere")]) == 2
    assert cli_main(["datasets", "list", "--path", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("--path" in line and "does not exist" in line for line in err)


def test_cli_verify_on_a_fresh_install_passes(isolated, capsys):
    """Nothing fetched: the embedded .npz is a verified form of hatsopoulos2007, the datasets that were
    never fetched are reported but are not failures; naming an absent dataset is one."""
    assert cli_main(["datasets", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"hatsopoulos2007/{EMB}: ok" in out
    assert f"hatsopoulos2007/{NPY}: not present (not needed: {EMB} is ok)" in out
    assert "churchland2012_tme: no verified copy; get it with: neurosim datasets fetch churchland2012_tme" in out
    assert cli_main(["datasets", "verify", "hatsopoulos2007"]) == 0
    assert cli_main(["datasets", "verify", "churchland2012_tme"]) == 1


def test_kriegeskorte_rdms(data_root, isolated):
    from scipy.stats import spearmanr

    ds = datasets.load("kriegeskorte2008", data_root)
    rdm = ds["rdm"]
    assert rdm.shape == (2, 92, 92)
    np.testing.assert_array_equal(rdm.values, np.swapaxes(rdm.values, 1, 2))
    iu = np.triu_indices(92, 1)
    rho = spearmanr(rdm.sel(region="mIT").values[iu], rdm.sel(region="hIT").values[iu])[0]
    assert abs(rho - 0.439) < 0.0005  # README reference value
    assert ds["category"].sum("image").values.tolist()[:2] == [48, 44]
    assert ds["subject_rdm"].shape == (4, 2, 92, 92)


# --------------------------------------------------------------------------- restricted unpickler
def _npy_with_payload(payload: bytes) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buf.getvalue() + payload


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npy"
    evil.write_bytes(_npy_with_payload(pickle.dumps(_Evil(marker), protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        load_npy(evil)
    assert not marker.exists()
    # and through the dataset loader: a poisoned file never reaches the unpickler unverified,
    # but even with verify=False it is refused
    folder = tmp_path / HATS
    folder.mkdir()
    shutil.copy(evil, folder / NPY)
    with pytest.raises(ValueError, match="checksum"):
        datasets.load("hatsopoulos2007", tmp_path)
    with pytest.raises(pickle.UnpicklingError):
        datasets.load("hatsopoulos2007", tmp_path, verify=False)
    assert not marker.exists()
    for module, name in (("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load")):
        with pytest.raises(pickle.UnpicklingError, match=name):
            RestrictedUnpickler(io.BytesIO(b"")).find_class(module, name)


def test_restricted_unpickler_reads_the_real_file(data_root):
    d = load_npy(data_root / HATS / NPY).item()
    ref = np.load(data_root / HATS / NPY, allow_pickle=True).item()
    assert sorted(d) == sorted(ref)
    for k in ref:
        np.testing.assert_array_equal(d[k], ref[k])
        assert d[k].dtype == ref[k].dtype




def test_embedded_m1_file_needs_no_path_network_or_variable(isolated, capsys):
    """The M1 recordings ship inside the package and are checksum-verified like any source."""
    f = datasets.find("hatsopoulos2007")
    assert f == datasets.embedded_dir() / EMB
    info = datasets.get("hatsopoulos2007").file(EMB)
    assert f.stat().st_size == info.size and datasets.sha256(f) == info.sha256
    ds = datasets.load("hatsopoulos2007")
    assert dict(ds["rates"].sizes) == {"condition": 8, "time": 121, "unit": 141}
    assert datasets.verify("hatsopoulos2007") == {NPY: "missing", EMB: "ok"}
    # only that file is embedded: no checkpoints, no other dataset
    assert sorted(p.name for p in datasets.embedded_dir().iterdir()) == [EMB]
    assert cli_main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "(embedded)" in out and "found: not found (neurosim datasets fetch churchland2012_tme)" in out


def test_embedded_file_matches_the_raw_release(data_root, isolated):
    """The embedded .npz loads to exactly the Dataset of the raw pickled .npy."""
    a = datasets.load("hatsopoulos2007")
    b = datasets.load("hatsopoulos2007", data_root / HATS / NPY)
    assert a.drop_attrs().identical(b.drop_attrs())


def test_flipped_byte_with_restored_mtime_is_caught(isolated, tmp_path):
    """A changed file whose size and mtime are unchanged must fail load and verify (no stale hash)."""
    folder = tmp_path / "data" / HATS
    folder.mkdir(parents=True)
    f = folder / EMB
    shutil.copyfile(datasets.embedded_dir() / EMB, f)
    assert datasets.verify("hatsopoulos2007", folder)[EMB] == "ok"
    datasets.load("hatsopoulos2007", folder)
    st = f.stat()
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ValueError, match="fails its checksum"):
        datasets.load("hatsopoulos2007", folder)
    assert datasets.verify("hatsopoulos2007", folder)[EMB].startswith("bad")


def test_corrupt_embedded_copy_is_refused(isolated, tmp_path, monkeypatch):
    bad = tmp_path / "pkgdata"
    bad.mkdir()
    raw = bytearray((datasets.embedded_dir() / EMB).read_bytes())
    raw[100] ^= 0xFF
    (bad / EMB).write_bytes(bytes(raw))
    monkeypatch.setattr(datasets._core, "embedded_dir", lambda: bad)
    with pytest.raises(ValueError, match="fails its checksum"):
        datasets.load("hatsopoulos2007")
