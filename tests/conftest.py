"""Shared fixtures: where the real recordings are, and fixed random generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    env = os.environ.get("NEUROSIM_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding the real recordings (``$NEUROSIM_DATA`` or ``../shared/data``)."""
    root = _data_root()
    if root is None:
        pytest.skip("real recordings not found: set NEUROSIM_DATA or put shared/data beside the repo")
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
