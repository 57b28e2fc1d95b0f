"""neurosim — how similar is a model's activity to neural recordings?

The public face of the package: everything here is re-exported from the module
that defines it (see ``docs/index.md`` for where things live). Nothing is defined here.

>>> import numpy as np
>>> from neurosim import procrustes_distance
>>> X = np.random.default_rng(0).normal(size=(50, 10))
>>> float(procrustes_distance(X, X)) < 1e-6
True
"""

__version__ = "0.1.0"

__all__ = [
    "ShapeMetric", "bias_corrected_cka", "bias_corrected_estimate", "bias_corrected_procrustes_distance",
    "canonical_correlations", "cca_distance", "cca_similarity", "cka", "compare_rdms",
    "dsa_distance", "energy_shape_distance", "gaussian_shape_distance", "make", "measures", "procrustes_distance", "rdm", "rsa", "shape_distance",
    "ridge_predictivity", "simulate_trials", "trial_split_ceiling", "split_half_reliability", "ceiled_score",
    "baselines", "datasets", "io", "Score", "compare", "trajectories", "validate_trajectories",
    "rnn", "matching", "accuracy_matched", "match_accuracy", "pairwise", "from_spikes", "record", "compare_models", "ModelComparison",
]

# metric kernels: arrays in, numbers out
from neurosim.metrics import (  # noqa: E402
    ShapeMetric,
    bias_corrected_cka,
    bias_corrected_estimate,
    bias_corrected_procrustes_distance,
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    compare_rdms,
    dsa_distance,
    energy_shape_distance,
    gaussian_shape_distance,
    make,
    measures,
    procrustes_distance,
    rdm,
    ridge_predictivity,
    rsa,
    shape_distance,
)

# the alignment layer. The sub-modules are imported first (so ``neurosim.io`` etc. are
# attributes); then the functions ``trajectories`` and ``compare`` deliberately shadow the
# modules of the same name: ``neurosim.compare`` is the function, and the modules stay
# importable with ``from neurosim.compare import Score``.
from neurosim import baselines, datasets, io  # noqa: E402
from neurosim.compare import Score, compare  # noqa: E402
from neurosim.trajectories import from_spikes, trajectories, validate_trajectories  # noqa: E402
from neurosim.baselines import ceiled_score, split_half_reliability, trial_split_ceiling  # noqa: E402
from neurosim.datasets import simulate_trials  # noqa: E402
# any model's activity (torch / jax adapters import their library only when called); the
# function shadows the module: neurosim.record(step_fn, inputs, ...)
from neurosim.record import record  # noqa: E402
# many models against one data set: paired bootstrap, permutation and equivalence tests
from neurosim.model_comparison import ModelComparison, compare_models  # noqa: E402,F401


# accuracy matching and many-network distance matrices. neurosim.experiments (the papers'
# pipelines) sits on top of everything and is imported explicitly; nothing in the package
# imports it.
from neurosim import matching  # noqa: E402,F401
from neurosim.matching import accuracy_matched, match_accuracy  # noqa: E402,F401
# the function shadows the module of the same name on purpose: neurosim.pairwise(...)
from neurosim.pairwise import pairwise  # noqa: E402,F401


def __getattr__(name: str):
    # the trainer (neurosim.rnn.LeakyRNN, neurosim.rnn.train, ...) is imported on first use:
    # it is not needed to score activity against data, and it adds ~30 ms to `import neurosim`
    # (benchmarks/import_time.py)
    if name == "rnn":
        import importlib

        return importlib.import_module("neurosim.rnn")
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
