"""Fixtures for the RNN tests: the Hatsopoulos 2007 Dataset (contract 3)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def hatsopoulos(m1_dataset):
    """The Hatsopoulos 2007 Dataset from the copy embedded in the package (never skips)."""
    return m1_dataset
