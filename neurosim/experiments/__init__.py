"""Experiments on top of the public API: training sweeps, the rule-vs-init decomposition,
and the paper-scale ``reproduce`` pipeline (e-prop vs BPTT similarity to M1 at matched accuracy).

Sub-modules are imported on first use so that ``import neurosim`` stays light.
"""

from neurosim.experiments.decomposition import variance_decomposition  # noqa: F401

__all__ = ["variance_decomposition", "sweep", "reproduce", "decomposition"]


def __getattr__(name: str):
    import importlib

    if name in ("sweep", "reproduce", "decomposition"):
        return importlib.import_module(f"neurosim.experiments.{name}")
    raise AttributeError(f"module 'neurosim.experiments' has no attribute {name!r}")
