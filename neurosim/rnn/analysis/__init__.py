"""Analyses of trained RNNs: gradient alignment, dynamics, fixed points, loss-landscape curvature.

One module per concept; this package only re-exports.
"""

# --- alignment (issue 4) ---
from neurosim.rnn.analysis.alignment import gradient_alignment  # noqa: F401
# --- end alignment ---

# --- dynamics (issue 5) ---
from neurosim.rnn.analysis.dynamics import (  # noqa: F401
    LinearDynamics,
    dynamics_distance,
    eigenspectrum,
    fit_linear_dynamics,
    participation_ratio,
    spectral_radius,
    spectrum_distance,
)
# --- end dynamics ---

# --- curvature (issue 6) ---
from neurosim.rnn.analysis.curvature import (  # noqa: E402,F401
    CurvatureConvergenceError,
    TraceEstimate,
    curvature_along_training,
    curvature_recorder,
    dense_hessian,
    hessian_top_eigenvalues,
    hessian_trace,
    hessian_vector_product,
    hutchinson_trace,
    top_eigenvalues,
)
# --- end curvature ---

# --- fixed points ---
from neurosim.rnn.analysis.fixed_points import (  # noqa: E402,F401
    FixedPoints,
    find_fixed_points,
    fixed_point_speed,
)
# --- end fixed points ---
