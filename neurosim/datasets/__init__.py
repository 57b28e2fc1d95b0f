"""Real recordings: a registry of pinned files, search, download with checksums, loaders.

>>> from neurosim import datasets
>>> datasets.names()
['churchland2012_tme', 'hatsopoulos2007', 'kriegeskorte2008']

``datasets.load(name, path=None)`` returns an :class:`xarray.Dataset` (see
``docs/data.md``). Search order: explicit ``path`` → ``$NEUROSIM_DATA`` → the user
cache directory → the package itself (only ``hatsopoulos2007`` is embedded, so it
always loads); ``datasets.fetch(name)`` downloads into the cache and verifies
sha256. ``datasets.simulate_trials(...)`` draws single-trial data with known condition
means, noise covariance and reliability (the ground truth of the trial-level tools).
``datasets.from_nwb(path, ...)`` turns any NWB file (e.g. from DANDI) into
firing-rate trajectories (needs the ``[nwb]`` extra). Published network weights (not shipped:
no licence) are found by ``datasets.find_checkpoint("liu2025")`` and downloaded, verified, by
``datasets.fetch_checkpoints("liu2025")`` (``neurosim datasets fetch liu2025_checkpoints``).
"""

from neurosim.datasets._core import cache_dir, embedded_dir, fetch, find, load, sha256, verify
from neurosim.datasets._safe_npy import RestrictedUnpickler, load_npy
from neurosim.datasets.benchmarks import BENCHMARKS, benchmark_names, find_benchmark, load_benchmark
from neurosim.datasets.checkpoints import CHECKPOINTS, checkpoint_names, fetch_checkpoints, find_checkpoint
from neurosim.datasets.nwb import from_nwb, read_nwb
from neurosim.datasets.registry import REGISTRY, DatasetInfo, FileInfo, get, names
from neurosim.datasets.simulate import simulate_trials

__all__ = [
    "BENCHMARKS",
    "CHECKPOINTS",
    "checkpoint_names",
    "fetch_checkpoints",
    "find_checkpoint",
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
    "from_nwb",
    "get",
    "load",
    "load_npy",
    "names",
    "read_nwb",
    "sha256",
    "simulate_trials",
    "verify",
]
