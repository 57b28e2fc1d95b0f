"""Similarity metrics on ``(samples, features)`` arrays: pure numpy kernels.

* :mod:`~neurosim.metrics.shape` -- generalized shape metrics (Procrustes ... CCA), the
  :class:`ShapeMetric` estimator, and the ``prepare`` / ``prepared_distance`` split.
* :mod:`~neurosim.metrics.cca` -- canonical correlations, mean / mean² / SVCCA / PWCCA.
* :mod:`~neurosim.metrics.cka` -- linear / RBF CKA, biased and debiased HSIC.
* :mod:`~neurosim.metrics.rsa` -- RDMs and RDM comparators.
* :mod:`~neurosim.metrics.dynamics` -- Dynamical Similarity Analysis on
  ``(trajectories, time, units)`` arrays (``.input == "trajectories"``).
* :mod:`~neurosim.metrics.predictivity` -- cross-validated ridge predictivity per recorded
  unit on ``(conditions, time, units)`` arrays (``.input == "conditions"``).
* :mod:`~neurosim.metrics.stochastic` -- stochastic shape metrics (Gaussian α, energy) on
  single trials ``(condition, trial, unit)`` (``.input == "trials"``).
* :mod:`~neurosim.metrics.bias_corrected` -- Procrustes distance and CKA of the true condition
  means estimated from few noisy trials (``.input == "trials"``).
* :mod:`~neurosim.metrics.registry` -- similarity-repository ids -> callables.

Direction: ``*_distance`` (0 = identical, lower is closer; angular ones in radians),
``*_similarity``, ``cka``, ``compare_rdms``, ``rsa`` (higher is closer).  Every public
callable carries ``.direction``.  See ``docs/metrics.md`` for definitions.
"""

from neurosim.metrics._validate import DroppedDirectionsWarning
from neurosim.metrics.bias_corrected import (
    BiasCorrectedEstimate,
    bias_corrected_cka,
    bias_corrected_estimate,
    bias_corrected_procrustes_distance,
)
from neurosim.metrics.cca import canonical_correlations, cca_similarity
from neurosim.metrics.cka import cka
from neurosim.metrics.dynamics import DMDFit, dsa_compare, dsa_distance, dsa_prepare
from neurosim.metrics.predictivity import ridge_predictivity
from neurosim.metrics.registry import Measure, make, measures
from neurosim.metrics.rsa import compare_rdms, rdm, rsa
from neurosim.metrics.stochastic import energy_shape_distance, gaussian_shape_distance, trial_moments
from neurosim.metrics.shape import (
    ShapeMetric,
    cca_distance,
    neg_shape_distance,
    prepare,
    prepared_distance,
    procrustes_distance,
    shape_distance,
)

__all__ = [
    "shape_distance",
    "procrustes_distance",
    "cca_distance",
    "prepare",
    "prepared_distance",
    "ShapeMetric",
    "neg_shape_distance",
    "canonical_correlations",
    "cca_similarity",
    "cka",
    "rdm",
    "compare_rdms",
    "rsa",
    "dsa_distance",
    "dsa_prepare",
    "dsa_compare",
    "DMDFit",
    "ridge_predictivity",
    "gaussian_shape_distance",
    "energy_shape_distance",
    "trial_moments",
    "bias_corrected_procrustes_distance",
    "bias_corrected_cka",
    "bias_corrected_estimate",
    "BiasCorrectedEstimate",
    "Measure",
    "make",
    "measures",
    "DroppedDirectionsWarning",
]
