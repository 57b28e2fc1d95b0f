"""Fixtures for the RNN tests: the Hatsopoulos 2007 Dataset (contract 3)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def hatsopoulos(data_root):
    from neurosim.datasets import load

    return load("hatsopoulos2007", path=data_root)
