"""Experiments on top of the public API: training sweeps, the rule-vs-init decomposition,
and the paper-scale ``reproduce`` pipeline (e-prop vs BPTT similarity to M1 at matched accuracy).

Sub-modules are imported on first use so that ``import neurosim`` stays light.
"""

from neurosim.experiments.alignment import alignment_lag, distance_to_data  # noqa: F401
from neurosim.experiments.decomposition import variance_decomposition  # noqa: F401

__all__ = ["variance_decomposition", "distance_to_data", "alignment_lag", "sweep", "reproduce",
           "decomposition", "alignment"]


def __getattr__(name: str):
    import importlib

    if name in ("sweep", "reproduce", "decomposition", "alignment"):
        return importlib.import_module(f"neurosim.experiments.{name}")
    raise AttributeError(f"module 'neurosim.experiments' has no attribute {name!r}")
