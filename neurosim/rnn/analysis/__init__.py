"""Analyses of trained RNNs: gradient alignment, dynamics, loss-landscape curvature.

One module per concept; this package only re-exports.
"""

# --- alignment (issue 4) ---
# --- end alignment ---

# --- dynamics (issue 5) ---
# --- end dynamics ---

# --- curvature (issue 6) ---
# --- end curvature ---
