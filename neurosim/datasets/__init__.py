"""Real recordings: a registry of pinned files, search, download with checksums, loaders.

>>> from neurosim import datasets
>>> datasets.names()
['churchland2012_tme', 'hatsopoulos2007', 'kriegeskorte2008']

``datasets.load(name, path=None)`` returns an :class:`xarray.Dataset` (see
``docs/data.md``). Search order: explicit ``path`` → ``$NEUROSIM_DATA`` → the user
cache directory → the package itself (only ``hatsopoulos2007`` is embedded, so it
always loads); ``datasets.fetch(name)`` downloads into the cache and verifies
sha256.
"""

from neurosim.datasets._core import cache_dir, embedded_dir, fetch, find, load, sha256, verify
from neurosim.datasets._safe_npy import RestrictedUnpickler, load_npy
from neurosim.datasets.benchmarks import BENCHMARKS, benchmark_names, find_benchmark, load_benchmark
from neurosim.datasets.registry import REGISTRY, DatasetInfo, FileInfo, get, names

__all__ = [
    "BENCHMARKS",
    "REGISTRY",
    "benchmark_names",
    "find_benchmark",
    "load_benchmark",
    "DatasetInfo",
    "FileInfo",
    "RestrictedUnpickler",
    "cache_dir",
    "embedded_dir",
    "fetch",
    "find",
    "get",
    "load",
    "load_npy",
    "names",
    "sha256",
    "verify",
]
