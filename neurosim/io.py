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
folder (``.NAME.<pid>.<random>.tmp``), flushed to disk, then moved over the
destination with :func:`os.replace`. Ctrl-C mid-write ends the write at once,
leaves the previous file intact and removes the temporary file. A process that
is killed outright (SIGKILL, power loss) cannot clean up; its temporary files are
swept by the next write to the same destination once their writer process is gone
(:func:`sweep_stale`).

Writers that must not run twice at once (a training run, a results folder) take a
lock with :func:`lock`; a second writer gets a :class:`LockError` at once.
:func:`atomic_directory` writes a whole results folder in one step and records a
manifest that :func:`check_manifest` verifies on the reader's side.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import numbers
import os
import re
import secrets
import shutil
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from filelock import FileLock, Timeout

__all__ = ["save", "load", "atomic_path", "atomic_directory", "check_manifest", "lock", "LockError",
           "sweep_stale", "check_output_file", "check_output_folder", "MANIFEST"]

_KIND = "_neurosim_kind"
_MULTI = "_neurosim_multiindex"
_TYPES = "_neurosim_attr_types"
_NAME = "_neurosim_dataarray_name"
_SHA = "_neurosim_sha256"
_DA_VAR = "__neurosim_dataarray__"
#: the kinds ``_neurosim_attr_types`` may name (see :func:`_encode_attrs`)
_ATTR_KINDS = {"none", "bool", "list", "tuple", "ndarray", "bool-list", "bool-tuple", "bool-ndarray",
               "empty-list", "empty-tuple", "empty-ndarray"}
#: netCDF compression of numeric variables (lossless; shuffle helps floats)
_COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}


_PROCESS_START = time.time()
MANIFEST = "MANIFEST.json"
_PID_TOKEN = re.compile(r"^(\d+)\.[0-9a-f]{8}$")        # ours: <pid>.<8 hex digits>
_LEGACY_TOKEN = re.compile(r"^[a-z0-9_]{8}$")           # tempfile.mkstemp's 8 characters (older versions)


class LockError(RuntimeError):
    """Another process is writing the same run file or results folder."""


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists but belongs to someone else (or we cannot tell): keep its files
    return True


def _stale(entry: Path, middle: str) -> bool:
    """A leftover of ours is stale when its writer is gone (or, without a pid, predates us)."""
    m = _PID_TOKEN.match(middle)
    if m:
        return not _pid_alive(int(m.group(1)))
    if not _LEGACY_TOKEN.match(middle):
        return False  # not one of our names (e.g. the temporary file of "NAME.bak")
    try:
        return entry.lstat().st_mtime < _PROCESS_START
    except FileNotFoundError:
        return False


def sweep_stale(path: str | os.PathLike) -> list[Path]:
    """Remove leftovers of interrupted writes to ``path``; returns what was removed.

    Only our own naming patterns next to ``path`` are touched: temporary files
    ``.NAME.*.tmp`` (from :func:`save` / :class:`atomic_path`) and folders
    ``.NAME.staging-*`` / ``.NAME.old-*`` (from :func:`atomic_directory`), and only
    when the process that made them is gone (the pid is part of the name) or, for
    names without a pid, when they are older than this process. If ``path`` itself
    is missing because a folder swap was killed half-way, the old folder is put
    back first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / ".run.nc.999999999.0badf00d.tmp").write_bytes(b"")   # its writer no longer exists
    >>> [p.name for p in sweep_stale(d / "run.nc")]
    ['.run.nc.999999999.0badf00d.tmp']
    """
    path = Path(path)
    parent, name = path.parent, path.name
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    olds: list[Path] = []
    for entry in parent.iterdir():
        n = entry.name
        prefix = f".{name}."
        if not n.startswith(prefix):
            continue
        rest = n[len(prefix):]
        if rest.endswith(".tmp") and not entry.is_dir():
            if _stale(entry, rest[:-4]):
                entry.unlink(missing_ok=True)
                removed.append(entry)
        elif rest.startswith("staging-") and entry.is_dir():
            if _stale(entry, rest[len("staging-"):]):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        elif rest.startswith("old-") and entry.is_dir():
            if _stale(entry, rest[len("old-"):]):
                olds.append(entry)
    for old in olds:
        if not path.exists():
            os.replace(old, path)  # a swap killed between its two renames: restore the old folder
        else:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def _token() -> str:
    return f"{os.getpid()}.{secrets.token_hex(4)}"


class atomic_path:
    """Context manager yielding a temporary path that replaces ``path`` on success.

    The temporary file ``.NAME.<pid>.<random>.tmp`` lives in the destination folder
    (so :func:`os.replace` is atomic on POSIX and Windows). On any exception —
    including :class:`KeyboardInterrupt` — it is removed and ``path`` is left
    untouched. Leftovers of killed writers are swept first (:func:`sweep_stale`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('hello', ['x.txt'])
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        check_output_file(self.path, "path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(self.path)
        tmp = self.path.parent / f".{self.path.name}.{_token()}.tmp"
        try:
            # created with the mode a plain open() would give (0666 & ~umask)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(fd)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.tmp = tmp
        return tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is None:
            try:
                with open(self.tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(self.tmp, self.path)
            except BaseException as err:
                _unlink_quietly(self.tmp)
                if _disk_full(err, self.path):
                    raise _disk_full_error(self.path, err) from None
                raise
        else:
            _unlink_quietly(self.tmp)
            if _disk_full(exc, self.path):
                raise _disk_full_error(self.path, exc) from None


#: below this many free bytes, a write error is taken to be a full disk (HDF5 reports it only as
#: "NetCDF: HDF error", without errno)
DISK_FULL_MARGIN = 16 * 2**20


def _free_bytes(path: Path) -> int | None:
    for folder in (path.parent, *path.parent.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


def _disk_full(err: BaseException | None, path: Path) -> bool:
    """Is ``err`` a write error caused by a full disk (ENOSPC, or an HDF5 error with little space left)?"""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return True
    if isinstance(err, (OSError, RuntimeError)) and not isinstance(err, (FileNotFoundError, PermissionError)):
        free = _free_bytes(path)
        return free is not None and free < DISK_FULL_MARGIN
    return False


def _disk_full_error(path: Path, err: BaseException) -> OSError:
    free = _free_bytes(path)
    where = path.absolute().parent
    left = f"{free:,} bytes free" if free is not None else "no free space"
    cause = " ".join(str(err).split()) or type(err).__name__
    return OSError(errno.ENOSPC, f"the disk is full: could not write {path} ({left} on the file system of "
                                 f"{where}; the write failed with: {cause}). Free some space there or write to "
                                 "another disk; nothing was left behind")


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # e.g. still open by an abandoned writer on Windows
        pass


def check_output_file(path: str | os.PathLike, argument: str = "out") -> Path:
    """Check up front that ``path`` can become a file; returns it as a Path.

    Raises a :class:`ValueError` naming ``argument`` when ``path`` is an existing
    folder or sits below an existing file.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     check_output_file(tempfile.mkdtemp(), "out")
    ... except ValueError as err:
    ...     print(str(err).split(";")[0].endswith("is a folder, not a file"))
    True
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{argument}={str(path)!r} is a folder, not a file; give a file path inside it "
                         f"(e.g. {str(path / 'run.nc')!r}).")
    _check_ancestors(path, argument)
    return path


def check_output_folder(path: str | os.PathLike, argument: str = "out") -> Path:
    """Check up front that ``path`` can become a results folder; returns it as a Path.

    Raises a :class:`ValueError` naming ``argument`` when ``path`` is an existing
    file or sits below one, and a :class:`LockError` when another process is
    writing it (:func:`atomic_directory`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "results"
    >>> _ = f.write_text("not a folder")
    >>> try:
    ...     check_output_folder(f, "--out")
    ... except ValueError as err:
    ...     print(str(err).split(";")[0].endswith("is a file, not a folder"))
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{argument}={str(path)!r} is a file, not a folder; give a folder path "
                         "(it is created if missing) or remove the file.")
    _check_ancestors(path, argument)
    if (path.parent / f".{path.name}.lock").exists():
        with lock(path):  # fail now, not after hours of work, if someone else is writing it
            pass
    return path


def _check_ancestors(path: Path, argument: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{argument}={str(path)!r} lies inside {str(parent)!r}, which is a file, "
                                 "not a folder; choose another location.")
            if not os.access(parent, os.W_OK | os.X_OK) and parent == path.absolute().parent:
                raise ValueError(f"{argument}={str(path)!r}: the folder {str(parent)!r} is not writable; "
                                 "choose another location.")
            return


_HELD: dict[str, list] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def lock(path: str | os.PathLike):
    """Hold the writer's lock of ``path`` (a run file or results folder) for the block.

    The lock is an OS file lock (``filelock``) on ``.NAME.lock`` beside ``path``, so
    it is released by the operating system if the process dies. Nested use in the
    same process is allowed; a second *process* gets a :class:`LockError` at once
    (no waiting). The small ``.NAME.lock`` file stays beside ``path``; it is reused
    by the next writer.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "run.nc"
    >>> with lock(target):
    ...     with lock(target):   # re-entrant within one process
    ...         pass
    """
    path = Path(path)
    lock_file = path.parent / f".{path.name}.lock"
    key = str(lock_file.absolute())
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
        else:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            fl = FileLock(str(lock_file), timeout=0, thread_local=False)
            try:
                fl.acquire()
            except Timeout:
                raise LockError(
                    f"{path} is being written by another process (it holds {lock_file}); wait for it to "
                    "finish, or write to another path."
                ) from None
            _HELD[key] = held = [fl, 1]
    try:
        yield path
    finally:
        with _HELD_GUARD:
            held[1] -= 1
            if held[1] == 0:
                held[0].release()
                del _HELD[key]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, run_id: str | None = None):
    """Write a results folder as one unit: stage everything, then swap the folder in.

    Inside the block, write every file into the yielded staging folder
    (``.NAME.staging-<pid>.<random>`` beside ``path``). On success a manifest
    ``MANIFEST.json`` is added (run id, time, and per file its size, sha256 and run
    id), then the folder is replaced in one step: the old ``path`` is renamed aside,
    the staging folder renamed in, and the old one removed. On any failure —
    including Ctrl-C — the staging folder is removed and the old folder stays as it
    was. The writer holds :func:`lock` on ``path`` throughout, so a second writer
    gets a :class:`LockError`. Readers call :func:`check_manifest`.

    Parameters
    ----------
    path : path-like
        The results folder (created, or replaced as a whole).
    run_id : str, optional
        Identifier recorded in the manifest (default: a fresh random id).

    Yields
    ------
    pathlib.Path
        The staging folder to write into.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "results"
    >>> with atomic_directory(out, run_id="run-1") as stage:
    ...     _ = (stage / "results.csv").write_text("a,b\\n1,2\\n")
    >>> sorted(p.name for p in out.iterdir()), check_manifest(out)["run_id"]
    (['MANIFEST.json', 'results.csv'], 'run-1')
    """
    path = Path(path)
    check_output_folder(path, "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    run_id = run_id or uuid.uuid4().hex
    with lock(path):
        sweep_stale(path)
        stage = path.parent / f".{path.name}.staging-{_token()}"
        old = None
        try:
            stage.mkdir()
            yield stage
            files = {}
            for f in sorted(p for p in stage.rglob("*") if p.is_file()):
                rel = f.relative_to(stage).as_posix()
                if rel == MANIFEST:
                    raise ValueError(f"{MANIFEST} is written by atomic_directory; do not write it yourself.")
                files[rel] = {"run_id": run_id, "size": f.stat().st_size, "sha256": _file_sha256(f)}
            manifest = {"format": "neurosim-manifest-1", "run_id": run_id,
                        "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "files": files}
            (stage / MANIFEST).write_text(json.dumps(manifest, indent=1))
            if path.exists():
                old = path.parent / f".{path.name}.old-{_token()}"
                os.replace(path, old)
            try:
                os.replace(stage, path)
            except BaseException:
                if old is not None and not path.exists():
                    os.replace(old, path)
                    old = None
                raise
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
            if old is not None and path.exists():
                shutil.rmtree(old, ignore_errors=True)


def check_manifest(folder: str | os.PathLike) -> dict:
    """Verify that a results folder is one complete, unmixed set; returns its manifest.

    Every file listed in ``MANIFEST.json`` must be present with its recorded size,
    sha256 and the manifest's run id, and no other file may be present.

    Raises
    ------
    FileNotFoundError
        If the folder or its manifest is missing.
    ValueError
        Naming the files that are missing, changed, from another run, or unlisted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "res"
    >>> with atomic_directory(out) as stage:
    ...     _ = (stage / "report.md").write_text("# report")
    >>> _ = (out / "results.csv").write_text("from another run")
    >>> try:
    ...     check_manifest(out)
    ... except ValueError as err:
    ...     print(str(err).split("): ")[1])
    results.csv: not listed in its manifest. Rerun the job that writes it.
    """
    folder = Path(folder)
    mpath = folder / MANIFEST
    if not folder.is_dir():
        raise FileNotFoundError(f"no such results folder: {folder}")
    if not mpath.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST}; it was not written by atomic_directory "
                                "(or is incomplete); rerun the job that writes it.")
    try:
        manifest = json.loads(mpath.read_text())
        run_id, files = manifest["run_id"], manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{mpath} is not a valid manifest ({err}); rerun the job that writes it.") from None
    if not isinstance(files, dict) or not isinstance(run_id, str):
        raise ValueError(f"{mpath} is not a valid manifest (its 'files' must map names to entries and its "
                         "'run_id' must be a string); rerun the job that writes it.")
    for rel, meta in files.items():
        if not isinstance(meta, dict):
            raise ValueError(f"{mpath} is not a valid manifest: the entry of {rel!r} is a {type(meta).__name__}, "
                             "not a {run_id, size, sha256} record; rerun the job that writes it.")
        if not _inside(rel):
            raise ValueError(f"{mpath} lists {rel!r}, which is not a path inside the folder; a manifest names only "
                             "files below its own folder. The folder cannot be trusted: rerun the job that writes it.")
    problems = []
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    for extra in sorted(present - set(files)):
        problems.append(f"{extra}: not listed in its manifest")
    for rel, meta in sorted(files.items()):
        f = folder / rel
        if f.is_symlink() or not f.resolve().is_relative_to(folder.resolve()):
            problems.append(f"{rel}: leads outside the folder")
        elif not f.is_file():
            problems.append(f"{rel}: missing")
        elif meta.get("run_id") != run_id:
            problems.append(f"{rel}: from run {meta.get('run_id')!r}, not {run_id!r}")
        elif f.stat().st_size != meta.get("size") or _file_sha256(f) != meta.get("sha256"):
            problems.append(f"{rel}: changed since it was written")
    if problems:
        raise ValueError(f"{folder} is not one complete run ({MANIFEST} run {run_id!r}): " + "; ".join(problems)
                         + ". Rerun the job that writes it.")
    return manifest


def _inside(rel) -> bool:
    """Is ``rel`` a plain relative path (no ``..``, no root, no drive, no backslash) naming a file below a folder?"""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    return not rel.startswith("/") and ":" not in parts[0] and all(p not in ("", ".", "..") for p in parts)


def _encode_attrs(attrs: dict, where: str) -> dict:
    out: dict[str, Any] = {}
    types: dict[str, str] = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"attribute names must be str; {where} has {key!r}.")
        if key.startswith("_neurosim_"):
            raise ValueError(
                f"attribute {key!r} of {where}: names starting with '_neurosim_' are reserved for what "
                "neurosim.io.save records itself (they would be dropped); rename it. (A file opened with "
                "xarray.open_dataset carries them: read it with neurosim.io.load instead.)"
            )
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


def _json_attr(attrs: dict, key: str, default: str, path: Path, kind: type):
    """A JSON-encoded bookkeeping attribute, checked to be of ``kind``; a clear ValueError otherwise."""
    text = attrs.get(key, default)
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError as err:
        value = err
    if isinstance(value, ValueError) or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "value"
        raise ValueError(f"{path}: its attribute {key} = {str(text)!r:.80} is not the JSON {expected} "
                         "neurosim.io.save writes; the file was altered or not written by neurosim. Write it again, "
                         "or open it with xarray.open_dataset.")
    return value


def _decode_attrs(attrs: dict, path: Path, where: str) -> dict:
    types = _json_attr(attrs, _TYPES, "{}", path, dict)
    bad = {k: v for k, v in types.items() if v not in _ATTR_KINDS}
    if bad:
        raise ValueError(f"{path}: {where} has {_TYPES} with unknown kinds {bad!r:.120} (known: "
                         f"{sorted(_ATTR_KINDS)}); the file was altered or written by a newer neurosim.")
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


def _digest(ds: xr.Dataset) -> str:
    """sha256 over every variable's name, dims, dtype and values and every attribute, as :func:`load`
    reads them (so a changed byte of data, coordinates or attributes changes it)."""
    h = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, np.ndarray) and value.dtype.kind not in "OUS":
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, np.ndarray):
            h.update(f"{value.dtype.kind}{value.shape}".encode())
            for item in value.ravel():
                h.update(repr(item).encode("utf-8", "surrogatepass") + b"\x00")
        else:
            h.update(repr(value).encode("utf-8", "surrogatepass"))

    for key in sorted(ds.attrs):
        if key != _SHA:
            h.update(f"\x01{key}=".encode())
            feed(ds.attrs[key])
    for name in sorted(ds.variables, key=str):
        var = ds.variables[name]
        h.update(f"\x02{name}{tuple(map(str, var.dims))}".encode())
        feed(np.asarray(var.values))
        for key in sorted(var.attrs):
            h.update(f"\x03{key}=".encode())
            feed(var.attrs[key])
    return h.hexdigest()


def _read_raw(path: Path) -> xr.Dataset:
    """The file's variables and attributes, as xarray decodes them, fully in memory and closed."""
    with xr.open_dataset(path, engine="netcdf4") as opened:
        return opened.load()


def _to_dataset(obj: xr.DataArray | xr.Dataset) -> tuple[xr.Dataset, dict]:
    """``(dataset, bookkeeping attrs)``: the dataset carries the user's attrs only."""
    if isinstance(obj, xr.DataArray):
        ds = obj.to_dataset(name=_DA_VAR)
        ds.attrs = {}
        return ds, {_KIND: "DataArray", _NAME: json.dumps(obj.name)}
    if isinstance(obj, xr.Dataset):
        ds = obj.copy()
        ds.attrs = dict(obj.attrs)
        return ds, {_KIND: "Dataset"}
    raise TypeError(
        f"neurosim.io.save takes an xarray.DataArray or Dataset; got {type(obj).__name__}. "
        "Wrap arrays with neurosim.trajectories(...) or xarray.Dataset({...})."
    )


def save(obj: xr.DataArray | xr.Dataset, path: str | os.PathLike, *, provenance: bool = True,
         compress: bool = True) -> Path:
    """Write a DataArray or Dataset to netCDF-4, atomically, keeping labels and attrs, with a checksum.

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
    compress : bool
        Lossless zlib compression (with byte shuffling) of every numeric variable
        (default). Values are stored exactly as given, in their own dtype.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        For an attribute netCDF cannot hold (see the module docstring), naming it.
    ValueError
        For an attribute whose name starts with ``_neurosim_`` (reserved for this function's
        bookkeeping, which would otherwise drop it).
    OSError
        With errno ENOSPC and a message saying which disk is full, when the disk fills up
        during the write (nothing is left behind).

    Notes
    -----
    The write goes to a temporary file in the same folder which is fsync'ed and
    then moved over ``path`` with :func:`os.replace`, so readers see either the
    old file or the complete new one, never a partial write. The file is read back
    once before the move: the sha256 of its variables (names, dims, values) and
    attributes, as :func:`load` will read them, is stored in the attribute
    ``_neurosim_sha256``, and :func:`load` refuses a file whose contents no longer
    match it.

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
    ds, bookkeeping = _to_dataset(obj)
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
    out.attrs.update(bookkeeping)
    if multi:
        out.attrs[_MULTI] = json.dumps(multi)
    if provenance:
        from neurosim import __version__  # the package face imports io: read it when writing

        out.attrs.setdefault("neurosim_version", __version__)
        out.attrs["saved_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for name in list(out.variables):
        out[name].attrs = _encode_attrs(dict(ds[name].attrs), f"variable {name!r}")
    encoding = {}
    if compress:
        encoding = {name: dict(_COMPRESSION) for name, var in out.variables.items()
                    if var.dtype.kind in "biuf" and var.ndim >= 1 and var.size > 0}
    with atomic_path(path) as tmp:
        _write_interruptibly(out, tmp, encoding)
    return path


def _to_netcdf(ds: xr.Dataset, tmp: Path, encoding: dict) -> None:
    """Write ``ds`` to ``tmp``, read it back and store the checksum of what was read."""
    import netCDF4  # imported when writing: measured import cost, and xarray imports it lazily too

    ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    digest = _digest(_read_raw(tmp))
    with netCDF4.Dataset(tmp, "a") as nc:
        nc.setncattr(_SHA, digest)


def _write_interruptibly(ds: xr.Dataset, tmp: Path, encoding: dict | None = None) -> None:
    """:func:`_to_netcdf` in a helper thread, so that Ctrl-C ends the wait at once.

    A KeyboardInterrupt raised inside xarray's netCDF writer can leave its file lock
    held and hang the process in the close path. Signals reach only the main thread,
    so the writer thread is never interrupted; the main thread returns on Ctrl-C,
    and :class:`atomic_path` removes the temporary file (an abandoned writer only
    finishes an already-unlinked file).
    """
    box: dict[str, BaseException] = {}

    def work() -> None:
        try:
            _to_netcdf(ds, tmp, encoding or {})
        except BaseException as err:  # handed to the caller's thread below
            box["error"] = err

    writer = threading.Thread(target=work, name="neurosim-io-save", daemon=True)
    writer.start()
    while writer.is_alive():
        writer.join(0.05)
    if "error" in box:
        raise box["error"]


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

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (:class:`IsADirectoryError` for a folder).
    ValueError
        If ``path`` is not a netCDF file, is truncated / corrupt, its contents do not
        match the checksum :func:`save` stored, or its neurosim bookkeeping
        attributes are malformed — naming the file.

    Notes
    -----
    Files written by :func:`save` carry the sha256 of their contents (attribute
    ``_neurosim_sha256``), verified here. Files without it — netCDF files from other
    tools, or written by neurosim before checksums were stored — are read without
    that verification.

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
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; neurosim.io.load reads one netCDF file (e.g. {path / 'run.nc'}).")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if not (magic.startswith(b"\x89HDF\r\n\x1a\n") or magic[:3] == b"CDF"):
        raise ValueError(f"{path} is not a netCDF file (neurosim writes netCDF-4; this file starts with "
                         f"{magic[:8]!r}). Pass a file written by neurosim.io.save or neurosim train.")
    try:
        ds = _read_raw(path)
    except (OSError, RuntimeError) as err:
        raise ValueError(f"{path} could not be read as netCDF ({' '.join(str(err).split())}); it is truncated or "
                         "corrupt. Write it again (neurosim.io.save / neurosim train).") from None
    stored = ds.attrs.get(_SHA)
    if stored is not None and (not isinstance(stored, str) or _digest(ds) != stored):
        raise ValueError(f"{path} is corrupt: its contents no longer match the sha256 stored when it was written "
                         "(a changed byte of data or attributes). Write it again (neurosim.io.save / neurosim "
                         "train) or restore it from a copy.")
    kind = ds.attrs.get(_KIND, "Dataset")
    if kind not in ("Dataset", "DataArray"):
        raise ValueError(f"{path}: its attribute {_KIND} = {kind!r:.40} is neither 'Dataset' nor 'DataArray'; "
                         "the file was altered. Write it again, or open it with xarray.open_dataset.")
    multi = _json_attr(ds.attrs, _MULTI, "{}", path, dict)
    da_name = _json_attr(ds.attrs, _NAME, "null", path, (str, int, float, type(None)))
    for dim, levels in multi.items():
        if (dim not in ds.dims or not isinstance(levels, list) or not levels
                or not all(isinstance(n, str) and n in ds.coords for n in levels)):
            raise ValueError(f"{path}: its attribute {_MULTI} names index levels {levels!r:.80} of {dim!r} that the "
                             "file does not hold; the file was altered. Write it again.")
        ds = ds.set_index({dim: levels})
    ds.attrs = _decode_attrs(ds.attrs, path, "the file")
    for name in list(ds.variables):
        ds[name].attrs = _decode_attrs(dict(ds[name].attrs), path, f"variable {name!r}")
        ds[name].encoding = {}
    if kind == "DataArray":
        if _DA_VAR not in ds.data_vars:
            raise ValueError(f"{path} says it holds a DataArray but has no variable {_DA_VAR!r} (it has "
                             f"{sorted(map(str, ds.data_vars))}); the file was altered. Write it again, or open it "
                             "with xarray.open_dataset.")
        # file-level provenance (neurosim_version, saved_utc) stays in the file;
        # the DataArray keeps exactly its own attrs
        da = ds[_DA_VAR]
        da.name = da_name
        return da
    return ds
