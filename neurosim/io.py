"""netCDF read/write for trajectories, datasets and checkpoints — atomic, label-preserving.

:func:`save` writes an :class:`xarray.DataArray` or :class:`xarray.Dataset` to a
netCDF-4 file (``netCDF4`` engine) and :func:`load` reads it back as the same kind
of object, with

* condition labels intact, **including a pandas MultiIndex** (netCDF cannot store
  one, so its levels are written as ordinary coordinates and the index is rebuilt
  on load);
* attributes intact, on the object, its variables and coordinates. Attribute
  values that survive a round trip exactly: ``str`` (without NUL characters,
  which are refused), ``int`` (64-bit), ``float``,
  ``bool``, ``None``, numpy scalars (as Python numbers), lists and tuples of
  numbers or of strings (restored as list / tuple), and 1-D numeric numpy
  arrays. Nested values (dicts, lists of lists, mixed lists) raise a
  :class:`TypeError` at save time — flatten them or store ``json.dumps(value)``.

Writes are atomic: the file is written to a temporary file in the destination
folder, flushed to disk, then moved over the destination with :func:`os.replace`.
A crash or Ctrl-C mid-write leaves the previous file intact and no temporary
file behind.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["save", "load", "atomic_path"]

_KIND = "_neurosim_kind"
_MULTI = "_neurosim_multiindex"
_TYPES = "_neurosim_attr_types"
_NAME = "_neurosim_dataarray_name"
_DA_VAR = "__neurosim_dataarray__"


class atomic_path:
    """Context manager yielding a temporary path that replaces ``path`` on success.

    The temporary file lives in the destination folder (so :func:`os.replace` is
    atomic on POSIX and Windows). On any exception — including
    :class:`KeyboardInterrupt` — it is removed and ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        # mkstemp creates the file 0600; give it the mode a plain open() would (0666 & ~umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is None:
            try:
                with open(self.tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(self.tmp, self.path)
            except BaseException:
                self.tmp.unlink(missing_ok=True)
                raise
        else:
            self.tmp.unlink(missing_ok=True)


def _encode_attrs(attrs: dict, where: str) -> dict:
    out: dict[str, Any] = {}
    types: dict[str, str] = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"attribute names must be str; {where} has {key!r}.")
        if key.startswith("_neurosim_"):
            continue
        if value is None:
            out[key], types[key] = "", "none"
        elif isinstance(value, (bool, np.bool_)):
            out[key], types[key] = int(value), "bool"
        elif isinstance(value, str):
            out[key] = _no_nul(value, key, where)
        elif isinstance(value, (numbers.Number, np.number)) and not isinstance(value, complex):
            out[key] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, (list, tuple, np.ndarray)):
            arr = np.asarray(value)
            kind = "ndarray" if isinstance(value, np.ndarray) else type(value).__name__
            if arr.ndim != 1 or arr.dtype == object or arr.dtype.kind in "cVM":
                raise TypeError(
                    f"attribute {key!r} of {where} is not a flat list of numbers or strings "
                    f"(got {type(value).__name__} {value!r:.60}); netCDF attributes cannot nest. "
                    "Flatten it or store json.dumps(value)."
                )
            if arr.size == 0:
                out[key], types[key] = "", f"empty-{kind}"
                continue
            if arr.dtype.kind == "b":
                out[key], types[key] = arr.astype(np.int8), f"bool-{kind}"
                continue
            out[key] = [_no_nul(str(v), key, where) for v in arr] if arr.dtype.kind == "U" else arr
            types[key] = kind
        else:
            raise TypeError(
                f"attribute {key!r} of {where} has type {type(value).__name__}, which netCDF "
                "cannot store; use str, int, float, bool, None or a flat list of those "
                "(store nested values as json.dumps(value))."
            )
    if types:
        out[_TYPES] = json.dumps(types)
    return out


def _no_nul(text: str, key: str, where: str) -> str:
    if "\x00" in text:
        raise ValueError(
            f"attribute {key!r} of {where} contains a NUL character, which netCDF silently "
            "drops; remove it (or store the bytes hex-encoded)."
        )
    return text


def _decode_attrs(attrs: dict) -> dict:
    types = json.loads(attrs.get(_TYPES, "{}"))
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.startswith("_neurosim_"):
            continue
        kind = types.get(key)
        if isinstance(value, np.generic):
            value = value.item()
        if kind == "none":
            value = None
        elif kind == "bool":
            value = bool(value)
        elif kind is not None and kind.startswith("empty-"):
            value = {"list": [], "tuple": (), "ndarray": np.array([])}[kind[6:]]
        elif kind is not None:
            base = kind.removeprefix("bool-")
            arr = np.atleast_1d(np.asarray(value))
            if kind.startswith("bool-"):
                arr = arr.astype(bool)
            if base == "ndarray":
                value = arr
            else:
                items = [v.item() if isinstance(v, np.generic) else v for v in arr]
                value = items if base == "list" else tuple(items)
        out[key] = value
    return out


def _to_dataset(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    if isinstance(obj, xr.DataArray):
        ds = obj.to_dataset(name=_DA_VAR)
        ds.attrs = {_KIND: "DataArray", _NAME: json.dumps(obj.name)}
        return ds
    if isinstance(obj, xr.Dataset):
        ds = obj.copy()
        ds.attrs = dict(obj.attrs)
        ds.attrs[_KIND] = "Dataset"
        return ds
    raise TypeError(
        f"neurosim.io.save takes an xarray.DataArray or Dataset; got {type(obj).__name__}. "
        "Wrap arrays with neurosim.trajectories(...) or xarray.Dataset({...})."
    )


def save(obj: xr.DataArray | xr.Dataset, path: str | os.PathLike, *, provenance: bool = True) -> Path:
    """Write a DataArray or Dataset to netCDF-4, atomically, keeping labels and attrs.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        What to write. MultiIndex coordinates (e.g. a ``condition`` index with
        levels ``context`` and ``coherence``) are stored level by level and
        rebuilt by :func:`load`.
    path : str or path-like
        Destination (conventionally ``*.nc``). Parent folders are created.
    provenance : bool
        If True, the file-level attrs record ``neurosim_version`` and ``saved_utc``
        (the object's own attrs are written unchanged beside them).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        For an attribute netCDF cannot hold (see the module docstring), naming it.

    Notes
    -----
    The write goes to a temporary file in the same folder which is fsync'ed and
    then moved over ``path`` with :func:`os.replace`, so readers see either the
    old file or the complete new one, never a partial write.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> da = trajectories(np.ones((2, 3, 4)), conditions={"context": ["a", "b"], "sign": [1, -1]},
    ...                   time=[0.0, 10.0, 20.0], attrs={"rule": "bptt", "dale": False})
    >>> path = save(da, pathlib.Path(tempfile.mkdtemp()) / "run.nc")
    >>> back = load(path)
    >>> back.indexes["condition"].names, back.attrs["dale"], back.identical(da)
    (FrozenList(['context', 'sign']), False, True)
    """
    path = Path(path)
    ds = _to_dataset(obj)
    multi: dict[str, list[str]] = {}
    for dim, index in ds.indexes.items():
        if isinstance(index, pd.MultiIndex) and dim in ds.dims:
            multi[str(dim)] = [str(n) for n in index.names]
    if multi:
        ds = ds.reset_index(list(multi))
        # reset_index keeps a dimension coordinate-less; the level coords stay along the dim
        for dim in multi:
            if dim in ds.coords and dim not in multi[dim]:
                ds = ds.drop_vars(dim)
    out = ds.copy()
    out.attrs = _encode_attrs(ds.attrs, "the object")
    for key in (_KIND, _NAME):
        if key in ds.attrs:
            out.attrs[key] = ds.attrs[key]
    if multi:
        out.attrs[_MULTI] = json.dumps(multi)
    if provenance:
        from neurosim import __version__

        out.attrs.setdefault("neurosim_version", __version__)
        out.attrs["saved_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for name in list(out.variables):
        out[name].attrs = _encode_attrs(dict(ds[name].attrs), f"variable {name!r}")
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return path


def load(path: str | os.PathLike) -> xr.DataArray | xr.Dataset:
    """Read a file written by :func:`save` (or any netCDF file) fully into memory.

    Parameters
    ----------
    path : str or path-like
        A netCDF file.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        The kind of object that was saved (a plain netCDF file gives a Dataset),
        with MultiIndex coordinates rebuilt and attrs decoded. The file is closed
        on return, so it can be overwritten at once.

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> p = save(xr.Dataset({"loss": ("step", [1.0, 0.5])}, attrs={"seed": 3}),
    ...          pathlib.Path(tempfile.mkdtemp()) / "ckpt.nc")
    >>> ds = load(p)
    >>> ds["loss"].values.tolist(), ds.attrs["seed"]
    ([1.0, 0.5], 3)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with xr.open_dataset(path, engine="netcdf4") as opened:
        ds = opened.load()
    kind = ds.attrs.get(_KIND, "Dataset")
    multi = json.loads(ds.attrs.get(_MULTI, "{}"))
    da_name = json.loads(ds.attrs.get(_NAME, "null"))
    for dim, levels in multi.items():
        ds = ds.set_index({dim: levels})
    ds.attrs = _decode_attrs(ds.attrs)
    for name in list(ds.variables):
        ds[name].attrs = _decode_attrs(dict(ds[name].attrs))
        ds[name].encoding = {}
    if kind == "DataArray":
        # file-level provenance (neurosim_version, saved_utc) stays in the file;
        # the DataArray keeps exactly its own attrs
        da = ds[_DA_VAR]
        da.name = da_name
        return da
    return ds
