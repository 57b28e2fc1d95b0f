"""The papers' pipelines as library code, on top of the public API.

* :mod:`neurosim.experiments.liu2025` — Liu, Yang & Cueva (ICML 2025): e-prop vs BPTT
  similarity to monkey M1 at matched accuracy, rule vs initialization (``neurosim reproduce``);
* :mod:`neurosim.experiments.liu2022` — Liu et al. (NeurIPS 2022), "Beyond accuracy":
  curvature and generalization by learning rule (``neurosim curvature``);
* shared pieces: :mod:`~neurosim.experiments.sweep` (training grids, optionally on dask),
  :mod:`~neurosim.experiments.decomposition` (variance decomposition),
  :mod:`~neurosim.experiments.report` (writing tables and reports).

The pipelines are imported on first use (``neurosim.experiments.reproduce`` is the 2025
pipeline's entry point), so ``import neurosim.experiments`` stays light.
"""

import importlib

from neurosim.experiments.decomposition import variance_decomposition  # noqa: F401
from neurosim.experiments.hierarchical import rule_difference  # noqa: F401

__all__ = ["variance_decomposition", "rule_difference", "reproduce", "ReproduceConfig", "distance_to_data", "alignment_lag",
           "liu2025", "liu2022", "sweep", "decomposition", "report", "alignment",
           "hierarchical"]

_MODULES = ("liu2025", "liu2022", "sweep", "decomposition", "report", "alignment", "hierarchical")
_FROM_LIU2025 = ("reproduce", "ReproduceConfig")
_FROM_ALIGNMENT = ("distance_to_data", "alignment_lag", "ALIGNMENTS")


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"neurosim.experiments.{name}")
    if name in _FROM_LIU2025:
        return getattr(importlib.import_module("neurosim.experiments.liu2025"), name)
    if name in _FROM_ALIGNMENT:
        return getattr(importlib.import_module("neurosim.experiments.alignment"), name)
    raise AttributeError(f"module 'neurosim.experiments' has no attribute {name!r}")
