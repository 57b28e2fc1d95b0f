"""Find, fetch, verify and load the registered recordings."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import xarray as xr

from neurosim.datasets._safe_npy import load_npy
from neurosim.datasets.registry import DatasetInfo, FileInfo, get
from neurosim.io import atomic_path

__all__ = ["cache_dir", "embedded_dir", "find", "fetch", "verify", "load", "sha256"]

ENV_DATA = "NEUROSIM_DATA"
ENV_URL = "NEUROSIM_DATA_URL"


def cache_dir() -> Path:
    """The per-user cache folder where :func:`fetch` puts downloads.

    ``platformdirs.user_cache_dir("neurosim")`` (e.g. ``~/.cache/neurosim`` on Linux).

    Examples
    --------
    >>> cache_dir().name
    'neurosim'
    """
    return Path(platformdirs.user_cache_dir("neurosim", appauthor=False))


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, computed afresh on every call.

    Not cached: a cache keyed on the file's metadata can be fooled (a changed byte
    with its mtime restored), and hashing the registered files (1-4 MB) costs a
    few milliseconds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def embedded_dir() -> Path:
    """The folder of data files shipped inside the package (package data).

    Holds only the Hatsopoulos 2007 M1 recordings as the lossless ``.npz``
    (1.1 MB, CC0-derived); :func:`find` looks here last, after the user cache.

    Examples
    --------
    >>> (embedded_dir() / "hatsopoulos2007_m1_center_out.npz").is_file()
    True
    """
    return Path(str(importlib.resources.files("neurosim.datasets") / "data"))


def _candidates(info: DatasetInfo, root: Path) -> list[Path]:
    """Files of ``info`` under ``root``: a data root, the dataset folder, or a file."""
    if root.is_file():
        return [root]
    out = []
    for f in info.files:
        if root == embedded_dir() and not f.embedded:
            continue
        for folder in (root / info.folder, root):
            if (folder / f.name).is_file():
                out.append(folder / f.name)
                break
    return out


def _lookup(registry: dict, name, kind: str) -> DatasetInfo:
    """``registry[name]`` for a side registry (benchmark images, published weights); ``kind`` names
    what it holds in the errors."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a {kind} name (str); got {type(name).__name__}")
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}")
    return registry[name]


def _user_roots(path: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """Where a side registry's files are searched: an explicit ``path`` alone, else
    ``$NEUROSIM_DATA`` then the user cache (``(label, folder)`` pairs for :func:`_first_found`)."""
    if path is not None:
        return [("path", Path(path).expanduser())]
    env = os.environ.get(ENV_DATA)
    return ([(f"${ENV_DATA}", Path(env).expanduser())] if env else []) + [("cache", cache_dir())]


def _search_roots(path: str | os.PathLike | None, info: DatasetInfo) -> list[tuple[str, Path]]:
    roots: list[tuple[str, Path]] = []
    if path is not None:
        roots.append(("path", Path(path).expanduser()))
    env = os.environ.get(ENV_DATA)
    if env:
        roots.append((f"${ENV_DATA}", Path(env).expanduser()))
    roots.append(("cache", cache_dir()))
    if any(f.embedded for f in info.files):
        roots.append(("embedded", embedded_dir()))
    return roots


def _not_found(name: str, info: DatasetInfo, looked: list[str]) -> FileNotFoundError:
    files = ", ".join(f.name for f in info.files)
    if any(f.embedded for f in info.files):
        # only an explicit path can miss a dataset that ships with the package: no download needed
        return FileNotFoundError(
            f"dataset {name!r} not found (looked for {files} in: {'; '.join(looked)}).\n"
            f"    A verified copy ships inside the package: leave out path= (--data on the command line) to use it,\n"
            f"or point path= at a folder that holds {info.folder}/ or one of its files."
        )
    return FileNotFoundError(
        f"dataset {name!r} not found (looked for {files} in: {'; '.join(looked)}). Get it with\n"
        f"    neurosim datasets fetch {name}\n"
        f"(or neurosim.datasets.fetch({name!r}) in Python), or point ${ENV_DATA} at a folder that "
        f"holds {info.folder}/ (e.g. export {ENV_DATA}=/path/to/data)."
    )


def find(name: str, path: str | os.PathLike | None = None, *, verify: bool = True) -> Path:
    """Locate a dataset's file: explicit ``path`` → ``$NEUROSIM_DATA`` → user cache → package.

    The last place, the copy embedded in the package (:func:`embedded_dir`), exists
    only for ``"hatsopoulos2007"``, so that dataset is always found.

    ``path`` (and ``$NEUROSIM_DATA``) may be the data root holding the dataset
    folders, the dataset folder itself, or one of its files. Within a location the
    registry's canonical file is preferred over alternatives (for Hatsopoulos: the
    raw ``.npy`` before the ``.npz`` conversion). An explicit ``path`` that does not
    hold the dataset is an error (no silent fallback to another copy).

    Parameters
    ----------
    name : str
        Registered dataset name (see :func:`neurosim.datasets.names`).
    path : path-like, optional
        Where to look first.
    verify : bool
        Check size and sha256 against the registry (default). A mismatch raises.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        Saying how to get the data (``neurosim datasets fetch NAME`` or ``$NEUROSIM_DATA``; for
        the embedded ``hatsopoulos2007``, that leaving out ``path`` uses the package's copy).
    ValueError
        If the file found fails its checksum.

    Examples
    --------
    >>> find("hatsopoulos2007").name   # the embedded copy, unless $NEUROSIM_DATA or the cache has one
    'hatsopoulos2007_m1_center_out.npz'
    >>> try:
    ...     find("hatsopoulos2007", "/nonexistent")
    ... except FileNotFoundError as err:
    ...     print(str(err).splitlines()[1].strip())
    A verified copy ships inside the package: leave out path= (--data on the command line) to use it,
    """
    info = get(name)
    looked: list[str] = []
    found = _first_found(info, _search_roots(path, info), verify, looked)
    if found is None:
        raise _not_found(name, info, looked)
    return found


def _first_found(info: DatasetInfo, roots, verify: bool, looked: list[str]) -> Path | None:
    """The first file of ``info`` under ``roots`` (``(label, folder)`` pairs, in search order),
    checked against its size and sha256 when ``verify``; None when none holds one. An explicit
    ``"path"`` root ends the search. Each root searched is appended to ``looked`` (for the message)."""
    for label, root in roots:
        looked.append(f"{label}={root}")
        for candidate in _candidates(info, root):
            if verify:
                _check(candidate, info)
            return candidate
        if label == "path":
            return None
    return None


def _check(path: Path, info: DatasetInfo) -> FileInfo:
    try:
        f = info.file(path.name)
    except KeyError:
        raise ValueError(
            f"{path} is not a file of dataset {info.name!r} (expected one of "
            f"{[f.name for f in info.files]}); pass the folder that holds it, or verify=False."
        ) from None
    size = path.stat().st_size
    digest = sha256(path) if size == f.size else None
    if size != f.size or digest != f.sha256:
        raise ValueError(
            f"{path} fails its checksum (size {size} vs {f.size}; sha256 {digest or 'not computed'} vs "
            f"{f.sha256}). The file is corrupt or a different version; delete it and run "
            f"`neurosim datasets fetch {info.name}`."
        )
    return f


def verify(name: str, path: str | os.PathLike | None = None) -> dict[str, str]:
    """Check every file of a dataset; returns ``{file name: "ok" | "missing" | "bad: ..."}``.

    Looks in the first location of the search order that holds any file of the
    dataset (explicit ``path`` → ``$NEUROSIM_DATA`` → user cache → package). Every
    file is hashed afresh.

    Examples
    --------
    >>> verify("churchland2012_tme", "/nonexistent")
    {'exampleData.mat': 'missing'}
    """
    info = get(name)
    found: list[Path] = []
    for label, root in _search_roots(path, info):
        found = _candidates(info, root)
        if found or label == "path":
            break
    status = {f.name: "missing" for f in info.files}
    for p in found:
        try:
            _check(p, info)
            status[p.name] = "ok"
        except ValueError as err:
            status[p.name] = "bad: " + str(err).split(" The file")[0]
    return status


def _url(f: FileInfo, info: DatasetInfo, base_url: str | None) -> str:
    base = base_url or os.environ.get(ENV_URL)
    if base:
        # a mirror laid out like the data root: BASE/<folder>/<file>
        return base.rstrip("/") + "/" + urllib.parse.quote(f"{info.folder}/{f.name}")
    if f.url is None:
        raise ValueError(f"{f.name} has no public source URL (it is a local conversion).")
    return f.url


def fetch(
    name: str,
    *,
    dest: str | os.PathLike | None = None,
    base_url: str | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download a dataset's files from their public source and verify sha256.

    Each file with a source URL is streamed to a temporary file in the
    destination folder, its size and sha256 are checked against the registry, and
    only then is it moved into place (:func:`os.replace`). A corrupted or
    truncated download raises and leaves nothing behind.

    Parameters
    ----------
    name : str
        Registered dataset name.
    dest : path-like, optional
        Data root to download into (files go to ``dest/<folder>/``). Default: the
        user cache directory (:func:`cache_dir`), the last place :func:`find` looks.
    base_url : str, optional
        A mirror laid out like the data root (``BASE/<folder>/<file>``); default
        ``$NEUROSIM_DATA_URL`` or, if unset, each file's pinned public URL.
    force : bool
        Download again even if a verified copy exists.
    timeout : float
        Seconds to wait on the network.

    Returns
    -------
    pathlib.Path
        The dataset's canonical file.

    Raises
    ------
    ValueError
        If a download fails its checksum (nothing is written).
    OSError
        On network errors, with the URL.
    """
    return _fetch_files(get(name), dest=dest, base_url=base_url, force=force, timeout=timeout)


def _fetch_files(info: DatasetInfo, *, dest=None, base_url: str | None = None, force: bool = False,
                 timeout: float = 60.0) -> Path:
    """:func:`fetch` for any registry entry (recordings, benchmarks, published weights)."""
    folder = Path(dest).expanduser() if dest is not None else cache_dir()
    folder = folder / info.folder
    for f in info.files:
        if f.url is None and not (base_url or os.environ.get(ENV_URL)):
            continue
        target = folder / f.name
        if target.is_file() and not force:
            try:
                _check(target, info)
                continue
            except ValueError:
                pass
        url = _url(f, info, base_url)
        if f.url is None:
            # local-only conversion: fetch it from a mirror if the mirror has it
            try:
                _download(url, target, f, info, timeout)
            except OSError:
                pass
            continue
        _download(url, target, f, info, timeout)
    return folder / info.canonical.name


def _download(url: str, target: Path, f: FileInfo, info: DatasetInfo, timeout: float) -> None:
    h = hashlib.sha256()
    size = 0
    with atomic_path(target) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        except OSError as err:
            raise OSError(f"could not download {url}: {err}") from err
        if size != f.size or h.hexdigest() != f.sha256:
            raise ValueError(
                f"download of {url} failed verification: got {size} bytes with sha256 "
                f"{h.hexdigest()}, expected {f.size} bytes with sha256 {f.sha256}. Nothing was "
                "saved; try again or use another mirror (base_url= / $NEUROSIM_DATA_URL)."
            )


# --------------------------------------------------------------------------- loaders
def load(name: str, path: str | os.PathLike | None = None, *, verify: bool = True) -> xr.Dataset:
    """Load a registered dataset as an :class:`xarray.Dataset`.

    Parameters
    ----------
    name : {"hatsopoulos2007", "churchland2012_tme", "kriegeskorte2008"}
        The dataset.
    path : path-like, optional
        Data root, dataset folder or file; see :func:`find` for the search order.
    verify : bool
        Check size and sha256 before reading (default True).

    Returns
    -------
    xarray.Dataset
        ``"hatsopoulos2007"``: ``rates`` (condition, time, unit) float64 spikes/s,
        ``condition`` = reach direction in integer degrees 0, 45, …, 315 (plus a float
        ``direction`` coordinate), ``time`` −800…400 ms step 10 (``attrs["units"] =
        "ms"``, ``attrs["alignment"] = "movement onset"``), ``unit`` 0..140;
        kinematics (condition, time) ``shoulder_angle``, ``elbow_angle``, ``hand_x``,
        ``hand_y``, ``hand_vx``, ``hand_vy`` (normalized: 0 at −800 ms, max |·| = 1);
        ``movement_duration_mean`` / ``movement_duration_median`` (condition,) in ms.

        ``"churchland2012_tme"``: ``rates`` (condition 0..9, time −50…550 ms, unit
        0..49), normalized (not spikes/s). The TME preprocessing has removed the
        mean over conditions (what is left of it holds 5 % of the sum of squares),
        so the condition-average baseline on this set (0.895 for Procrustes) scores
        a near-zero signal and is nearly meaningless: judge models against the
        split-half ceiling and each other instead.

        ``"kriegeskorte2008"``: ``rdm`` (region, image, image_b) — monkey IT
        (``"mIT"``, 674 neurons) and human IT (``"hIT"``, 316 voxels) 92×92 RDMs;
        ``subject_rdm`` (subject, session, image, image_b) human-IT fMRI RDMs when
        ``92_brainRDMs.mat`` is present; ``category`` (image, category_name) 0/1
        membership; ``image_category`` (image,) strings.

    Examples
    --------
    The M1 recordings ship with the package (no path, network or variable needed):

    >>> ds = load("hatsopoulos2007")
    >>> dict(ds["rates"].sizes), ds.attrs["source_file"]
    ({'condition': 8, 'time': 121, 'unit': 141}, 'hatsopoulos2007_m1_center_out.npz')

    The other sets are searched for; without them, the error says how to get them:

    >>> try:
    ...     load("churchland2012_tme", "/nonexistent")
    ... except FileNotFoundError as err:
    ...     print(str(err).splitlines()[1].strip())
    neurosim datasets fetch churchland2012_tme
    """
    info = get(name)
    file = find(name, path, verify=verify)
    loader = _LOADERS[info.name]
    ds = loader(file, info)
    ds.attrs.update(
        dataset=info.name,
        source=info.source,
        source_file=file.name,
        citation=info.citation,
        license=info.license,
        description=info.description,
    )
    return ds


def _load_hatsopoulos(file: Path, info: DatasetInfo) -> xr.Dataset:

    if file.suffix == ".npz":
        with np.load(file, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    else:
        obj = load_npy(file)
        d = obj.item() if obj.shape == () else None
        if not isinstance(d, dict):
            raise ValueError(f"{file}: expected a pickled dict of arrays; got {type(d).__name__}.")
    fr = np.asarray(d["firing_rate"], dtype=np.float64)  # (unit, time, condition)
    if fr.shape != (141, 121, 8):
        raise ValueError(f"{file}: firing_rate has shape {fr.shape}, expected (141, 121, 8).")
    directions = np.arange(0, 360, 45)
    time = np.arange(-800.0, 401.0, 10.0)
    coords = {
        "condition": ("condition", directions, {"long_name": "reach direction", "units": "degree"}),
        "direction": ("condition", directions.astype(np.float64), {"units": "degree"}),
        "time": ("time", time, {"units": "ms", "alignment": "movement onset"}),
        "unit": ("unit", np.arange(fr.shape[0])),
    }
    kin = {
        "shoulder_angle": "shoulderangle",
        "elbow_angle": "elbowangle",
        "hand_x": "xhandposition",
        "hand_y": "yhandposition",
        "hand_vx": "xhandspeed",
        "hand_vy": "yhandspeed",
    }
    data_vars: dict[str, Any] = {
        "rates": (
            ("condition", "time", "unit"),
            fr.transpose(2, 1, 0).copy(),
            {"units": "spikes/s", "long_name": "trial-averaged firing rate (Gaussian SD 25 ms)"},
        )
    }
    for new, old in kin.items():
        data_vars[new] = (
            ("condition", "time"),
            np.asarray(d[old], dtype=np.float64),
            {"units": "normalized", "note": "0 at -800 ms; max |value| over the array = 1"},
        )
    for stat in ("mean", "median"):
        data_vars[f"movement_duration_{stat}"] = (
            ("condition",),
            np.asarray(d[f"time_startmovement_to_endmovement_{stat}"], dtype=np.float64),
            {"units": "ms", "long_name": f"{stat} movement duration"},
        )
    return xr.Dataset(data_vars, coords=coords)


def _load_churchland(file: Path, info: DatasetInfo) -> xr.Dataset:
    import scipy.io  # imported on first use: measured import cost (only the .mat loaders need it)

    m = scipy.io.loadmat(file)
    tensor = np.asarray(m["dataTensor"], dtype=np.float64)  # (time, unit, condition)
    t = np.asarray(m["t"], dtype=np.float64).ravel()
    return xr.Dataset(
        {
            "rates": (
                ("condition", "time", "unit"),
                tensor.transpose(2, 0, 1).copy(),
                {"units": "normalized", "long_name": "preprocessed firing rate (TME demo)"},
            )
        },
        coords={
            "condition": np.arange(tensor.shape[2]),
            "time": ("time", t, {"units": "ms", "alignment": "movement onset (inferred, not stated)"}),
            "unit": np.arange(tensor.shape[1]),
        },
    )


def _load_kriegeskorte(file: Path, info: DatasetInfo) -> xr.Dataset:
    import scipy.io  # imported on first use: measured import cost (only the .mat loaders need it)
    from scipy.spatial.distance import squareform

    supp = file.parent / info.files[0].name
    m = scipy.io.loadmat(supp, squeeze_me=True, struct_as_record=False)
    rdms = np.stack([squareform(np.asarray(r.RDM, dtype=np.float64)) for r in m["RDMs_mIT_hIT_fig1"]])
    region_names = [str(r.name) for r in m["RDMs_mIT_hIT_fig1"]]
    n = rdms.shape[-1]
    cats = [str(c) for c in m["categoryLabels"]]
    stim = m["stimuli_92objs"]
    ds = xr.Dataset(
        {
            "rdm": (("region", "image", "image_b"), rdms, {"long_name": "RDM (1 - correlation)"}),
            "category": (("image", "category_name"), np.asarray(m["categoryVectors"], dtype=np.int8)),
            "image_category": (("image",), np.array([str(s.category) for s in stim])),
        },
        coords={
            "region": ["mIT", "hIT"],
            "region_name": ("region", region_names),
            "image": np.arange(n),
            "image_b": np.arange(n),
            "category_name": cats,
        },
    )
    brain = file.parent / info.files[1].name
    if brain.is_file():
        _check(brain, info)
        b = scipy.io.loadmat(brain, squeeze_me=True, struct_as_record=False)["RDMs"]
        sub = np.stack([[np.asarray(b[i, j].RDM, dtype=np.float64) for j in range(b.shape[1])] for i in range(b.shape[0])])
        ds["subject_rdm"] = (("subject", "session", "image", "image_b"), sub)
        ds = ds.assign_coords(subject=["BE", "KO", "SN", "TI"][: sub.shape[0]], session=np.arange(1, sub.shape[1] + 1))
    return ds


_LOADERS = {
    "hatsopoulos2007": _load_hatsopoulos,
    "churchland2012_tme": _load_churchland,
    "kriegeskorte2008": _load_kriegeskorte,
}
