"""netCDF files carry a checksum of their contents; malformed bookkeeping, reserved attribute names,
crafted manifests and a full disk give one clear error naming the file."""

from __future__ import annotations

import errno
import json

import netCDF4
import numpy as np
import pytest
import xarray as xr

from neurosim import io as nio

MARK = np.array([1.25, -3.5, 7.75, 1e-3, 42.0, 6.0221e23, -0.125, 9.5])  # bytes easy to find in the file


def _flip(path, needle: bytes, delta: int = 1) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.find(needle)
    assert at >= 0 and raw.find(needle, at + 1) < 0, "the bytes to change must occur exactly once"
    raw[at + len(needle) // 2] ^= delta
    path.write_bytes(bytes(raw))


def test_a_flipped_data_byte_is_refused_naming_the_file(tmp_path):
    p = nio.save(xr.Dataset({"w": ("i", MARK)}, attrs={"rule": "bptt-marker"}), tmp_path / "run.nc", compress=False)
    assert nio.load(p)["w"].values.tolist() == MARK.tolist()
    _flip(p, MARK.astype("<f8").tobytes())
    with pytest.raises(ValueError, match=r"run\.nc is corrupt: its contents no longer match the sha256"):
        nio.load(p)


def test_a_changed_attribute_is_refused(tmp_path):
    """(HDF5 checksums its own metadata blocks, so this one may be caught before neurosim's checksum.)"""
    p = nio.save(xr.Dataset({"w": ("i", MARK)}, attrs={"rule": "bptt-marker"}), tmp_path / "run.nc")
    _flip(p, b"bptt-marker")
    with pytest.raises(ValueError, match=r"run\.nc .*corrupt"):
        nio.load(p)


def test_compressed_files_round_trip_exactly_and_are_smaller(tmp_path):
    rng = np.random.default_rng(0)
    ds = xr.Dataset({"w": (("s", "a"), (100 * rng.normal(size=(40, 200))).round()), "n": ("s", np.arange(40)),
                     "ok": ("s", np.arange(40) % 2 == 0), "name": ("s", [f"r{i}" for i in range(40)])})
    small = nio.save(ds, tmp_path / "z.nc")
    big = nio.save(ds, tmp_path / "raw.nc", compress=False)
    assert small.stat().st_size < 0.8 * big.stat().st_size
    for p in (small, big):
        back = nio.load(p)
        assert back.identical(ds.assign_attrs(back.attrs)) and back["w"].dtype == np.float64


def test_files_without_a_checksum_load_unverified(tmp_path):
    """netCDF files from other tools (or older neurosim versions) carry no checksum: they load as before."""
    p = tmp_path / "plain.nc"
    xr.Dataset({"w": ("i", MARK)}).to_netcdf(p, engine="netcdf4")
    assert nio.load(p)["w"].values.tolist() == MARK.tolist()


def test_reserved_attribute_names_are_refused_not_dropped(tmp_path):
    for obj in (xr.Dataset({"w": ("i", MARK)}, attrs={"_neurosim_note": "x"}),
                xr.DataArray(MARK, dims="i", attrs={"_neurosim_kind": "mine"}),
                xr.Dataset({"w": ("i", MARK, {"_neurosim_attr_types": "{}"})})):
        with pytest.raises(ValueError, match="names starting with '_neurosim_' are reserved"):
            nio.save(obj, tmp_path / "r.nc")
    assert not list(tmp_path.iterdir())


def _set_attr(path, key, value, variable=None):
    with netCDF4.Dataset(path, "a") as nc:
        (nc if variable is None else nc.variables[variable]).setncattr(key, value)
        if "_neurosim_sha256" in nc.ncattrs():
            nc.delncattr("_neurosim_sha256")  # as an older file would be: the bookkeeping itself is checked


@pytest.mark.parametrize("key, value, variable, message", [
    ("_neurosim_attr_types", "{not json", None, "_neurosim_attr_types = '{not json' is not the JSON dict"),
    ("_neurosim_attr_types", "[1, 2]", None, "is not the JSON dict"),
    ("_neurosim_attr_types", json.dumps({"seed": "complex"}), None, "unknown kinds"),
    ("_neurosim_attr_types", "{oops", "w", "is not the JSON dict"),
    ("_neurosim_multiindex", "{bad", None, "_neurosim_multiindex"),
    ("_neurosim_multiindex", json.dumps({"i": ["nope"]}), None, "names index levels"),
    ("_neurosim_dataarray_name", "{bad", None, "_neurosim_dataarray_name"),
    ("_neurosim_dataarray_name", json.dumps([1]), None, "_neurosim_dataarray_name"),
    ("_neurosim_kind", "Elephant", None, "neither 'Dataset' nor 'DataArray'"),
    ("_neurosim_kind", "DataArray", None, "says it holds a DataArray but has no variable"),
])
def test_malformed_bookkeeping_is_a_clear_value_error(tmp_path, key, value, variable, message):
    p = nio.save(xr.Dataset({"w": ("i", MARK, {"seed": 3})}, attrs={"seed": 3}), tmp_path / "f.nc")
    _set_attr(p, key, value, variable)
    with pytest.raises(ValueError, match=message) as err:
        nio.load(p)
    assert "f.nc" in str(err.value)
    assert type(err.value) is ValueError  # not a JSONDecodeError / KeyError in disguise


# ------------------------------------------------------------------------------- check_manifest
def _folder(tmp_path):
    out = tmp_path / "res"
    with nio.atomic_directory(out, run_id="r1") as stage:
        (stage / "a.txt").write_text("a")
    return out


def _edit_manifest(folder, change):
    m = json.loads((folder / nio.MANIFEST).read_text())
    change(m)
    (folder / nio.MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("change, message", [
    (lambda m: m["files"].__setitem__("a.txt", "not a dict"), "the entry of 'a.txt' is a str"),
    (lambda m: m["files"].__setitem__("a.txt", None), "the entry of 'a.txt' is a NoneType"),
    (lambda m: m.__setitem__("files", ["a.txt"]), "'files' must map names to entries"),
    (lambda m: m.__setitem__("run_id", 5), "'run_id' must be a string"),
])
def test_malformed_manifest_entries_are_a_clear_value_error(tmp_path, change, message):
    out = _folder(tmp_path)
    _edit_manifest(out, change)
    with pytest.raises(ValueError, match=message) as err:
        nio.check_manifest(out)
    assert type(err.value) is ValueError


@pytest.mark.parametrize("name", ["../secret.txt", "/etc/passwd", "sub/../../secret.txt", "./a.txt", "a//b",
                                  "..\\secret.txt", "C:/secret.txt"])
def test_manifest_entries_outside_the_folder_are_refused_unread(tmp_path, name, monkeypatch):
    out = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    entry = {"run_id": "r1", "size": 7, "sha256": nio._file_sha256(secret)}
    _edit_manifest(out, lambda m: m["files"].__setitem__(name, entry))
    opened = []
    real = nio._file_sha256
    monkeypatch.setattr(nio, "_file_sha256", lambda p: opened.append(p) or real(p))
    with pytest.raises(ValueError, match="which is not a path inside the folder"):
        nio.check_manifest(out)
    assert opened == []  # nothing was hashed, least of all the file outside


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path):
    out = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (out / "link.txt").symlink_to(secret)
    _edit_manifest(out, lambda m: m["files"].__setitem__(
        "link.txt", {"run_id": "r1", "size": 7, "sha256": nio._file_sha256(secret)}))
    with pytest.raises(ValueError, match="link.txt: leads outside the folder"):
        nio.check_manifest(out)


# ------------------------------------------------------------------------------- full disk
def _full_disk(monkeypatch, tmp_path, error):
    def failing_writer(ds, tmp, encoding):
        tmp.write_bytes(b"\x89HDF partial")
        raise error

    monkeypatch.setattr(nio, "_to_netcdf", failing_writer)
    real = nio.shutil.disk_usage
    monkeypatch.setattr(nio.shutil, "disk_usage", lambda p: real(p)._replace(free=4096))


@pytest.mark.parametrize("error", [RuntimeError("NetCDF: HDF error"), OSError(errno.ENOSPC, "No space left")])
def test_a_full_disk_is_named_as_such(tmp_path, monkeypatch, error):
    target = tmp_path / "out" / "run.nc"
    _full_disk(monkeypatch, tmp_path, error)
    with pytest.raises(OSError, match="the disk is full: could not write .*run.nc .4,096 bytes free on the file "
                                      "system of .*out") as err:
        nio.save(xr.Dataset({"w": ("i", MARK)}), target)
    assert err.value.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []  # no temporary file left


def test_other_write_errors_with_free_space_are_not_called_a_full_disk(tmp_path, monkeypatch):
    def failing_writer(ds, tmp, encoding):
        raise RuntimeError("NetCDF: something else")

    monkeypatch.setattr(nio, "_to_netcdf", failing_writer)
    with pytest.raises(RuntimeError, match="something else"):
        nio.save(xr.Dataset({"w": ("i", MARK)}), tmp_path / "x.nc")


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    from neurosim.cli import main

    _full_disk(monkeypatch, tmp_path, RuntimeError("NetCDF: HDF error"))
    argv = ["train", "--task", "perceptual-decision", "--steps", "1", "--n-rec", "4", "--batch-size", "2",
            "--checkpoints", "1", "--no-progress", "--out", str(tmp_path / "run.nc")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("neurosim train: error: [Errno 28] the disk is full: could not write ")
