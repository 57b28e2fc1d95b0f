"""Shared fixtures: where the real recordings are, and fixed random generators.

Two sources of real data:

* the Hatsopoulos 2007 M1 recordings ship inside the package (``neurosim/datasets/data/``), so
  every test that needs only them (``m1_dataset``, ``m1_rates``) runs everywhere — in a fresh
  clone with nothing beside it, with no network and no environment variable;
* everything else (the Churchland and Kriegeskorte sets, the raw Hatsopoulos ``.npy`` release, the
  paper's checkpoints) lives in a data folder, ``$NEUROSIM_DATA`` or ``../shared/data`` beside the
  repository (``data_root``); tests that need it skip with the reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neurosim import datasets

REPO = Path(__file__).resolve().parents[1]

# the embedded file (the package's own copy, checksum-verified by ``datasets.load``)
EMBEDDED_M1 = datasets.embedded_dir() / "hatsopoulos2007_m1_center_out.npz"


def _data_root() -> Path | None:
    env = os.environ.get("NEUROSIM_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding the recordings that do not ship with the package.

    ``$NEUROSIM_DATA`` or ``../shared/data``; skips when neither exists. Tests that need only
    the M1 recordings use ``m1_dataset`` / ``m1_rates`` instead, which never skip.
    """
    root = _data_root()
    if root is None:
        pytest.skip("non-embedded data (Churchland, Kriegeskorte, the raw Hatsopoulos .npy release, "
                    "the paper's checkpoints) not found: set NEUROSIM_DATA or put shared/data beside the repo")
    return root


@pytest.fixture(scope="session")
def m1_dataset():
    """The Hatsopoulos 2007 M1 Dataset from the copy embedded in the package (never skips)."""
    return datasets.load("hatsopoulos2007", path=EMBEDDED_M1)


@pytest.fixture(scope="session")
def m1_rates(m1_dataset):
    """M1 rates, DataArray (condition 8, time 121, unit 141), spikes/s, 0 ms = movement onset."""
    return m1_dataset["rates"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No ``$NEUROSIM_DATA``/``$NEUROSIM_DATA_URL`` and an empty user cache, so only what the test
    provides is found (the cache folder, not yet created, is returned)."""
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    monkeypatch.delenv("NEUROSIM_DATA_URL", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr(datasets._core, "cache_dir", lambda: cache)
    return cache
