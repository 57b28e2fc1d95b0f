"""Read a pickled ``.npy`` (an object array wrapping a dict of arrays) without arbitrary pickle.

``numpy.load(path, allow_pickle=True)`` runs whatever the pickle stream asks for —
including ``os.system``. The Hatsopoulos file as released is such a pickle, so
neurosim reads it with a restricted :class:`pickle.Unpickler` whose
``find_class`` only resolves the handful of globals numpy needs to rebuild
arrays and dtypes. Everything else raises :class:`pickle.UnpicklingError`
before it can be called.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["RestrictedUnpickler", "load_npy", "ALLOWED_GLOBALS"]


def _reconstruct():
    # numpy >= 2 moved numpy.core to numpy._core; numpy 1.x has only numpy.core.
    try:
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


#: (module, name) pairs the unpickler will resolve; nothing else.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("builtins", "dict"): lambda: dict,
    ("builtins", "list"): lambda: list,
    ("builtins", "tuple"): lambda: tuple,
    ("builtins", "set"): lambda: set,
    ("builtins", "frozenset"): lambda: frozenset,
    ("builtins", "bytearray"): lambda: bytearray,
    ("__builtin__", "dict"): lambda: dict,
    ("__builtin__", "list"): lambda: list,
    ("__builtin__", "tuple"): lambda: tuple,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays, dtypes and plain containers.

    ``find_class`` consults :data:`ALLOWED_GLOBALS`; any other global — a
    function such as ``os.system``, ``builtins.eval`` or an arbitrary class —
    raises :class:`pickle.UnpicklingError` naming it, so the stream cannot call it.

    Examples
    --------
    >>> import io, os, pickle
    >>> class Evil:
    ...     def __reduce__(self):
    ...         return (os.system, ("echo pwned",))
    >>> try:
    ...     RestrictedUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()
    ... except pickle.UnpicklingError as err:
    ...     print(str(err).split(" from")[0].replace("posix", "os").replace("nt.", "os."))
    refusing to load global 'os.system'
    """

    def find_class(self, module: str, name: str) -> Any:
        factory = ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}' from a pickle: only numpy arrays, "
                "dtypes and plain containers are allowed"
            )
        return factory()


def load_npy(path: str | os.PathLike) -> Any:
    """Load a ``.npy`` file; object arrays go through :class:`RestrictedUnpickler`.

    The header is parsed with :mod:`numpy.lib.format`. A numeric array is read
    with ``allow_pickle=False``; an object array's remaining bytes are fed to the
    restricted unpickler, and the result must be an ndarray of the header's shape.

    Parameters
    ----------
    path : path-like
        The ``.npy`` file.

    Returns
    -------
    numpy.ndarray
        For a 0-d object array (a pickled dict), use ``.item()`` to get the dict.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.npy"
    >>> np.save(p, np.array({"a": np.arange(3.0)}, dtype=object), allow_pickle=True)
    >>> load_npy(p).item()["a"].tolist()
    [0.0, 1.0, 2.0]
    """
    path = Path(path)
    with open(path, "rb") as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        else:  # pragma: no cover - future format
            raise ValueError(f"{path}: unsupported .npy format version {version}")
        if not dtype.hasobject:
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
        payload = fh.read()
    obj = RestrictedUnpickler(io.BytesIO(payload)).load()
    if not isinstance(obj, np.ndarray) or obj.shape != tuple(shape):
        raise ValueError(
            f"{path}: the pickle did not hold an array of shape {shape} as its header says; "
            "the file is corrupt or not a numpy file."
        )
    return obj
