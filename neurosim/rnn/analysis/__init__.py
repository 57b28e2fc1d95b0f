"""Descriptors of one trained RNN: gradient alignment, dynamics, fixed points, curvature, generalization.

One module per concept; this package only re-exports.
"""

from neurosim.rnn.analysis.alignment import gradient_alignment  # noqa: F401
from neurosim.rnn.analysis.curvature import (  # noqa: F401
    CurvatureConvergenceError,
    TraceEstimate,
    curvature_along_training,
    curvature_recorder,
    dense_hessian,
    hessian_top_eigenvalues,
    hessian_trace,
    hessian_vector_product,
    hutchinson_trace,
    rule_curvature,
    top_eigenvalues,
)
from neurosim.rnn.analysis.dynamics import (  # noqa: F401
    LinearDynamics,
    dynamics_distance,
    eigenspectrum,
    fit_linear_dynamics,
    participation_ratio,
    spectral_radius,
    spectrum_distance,
)
from neurosim.rnn.analysis.fixed_points import FixedPoints, find_fixed_points, fixed_point_speed  # noqa: F401
from neurosim.rnn.analysis.generalization import HELDOUT_KINDS, generalization_gap, heldout_task  # noqa: F401
