"""Input checks shared by every metric, in one place, with messages that name the fix.

Every public metric calls these at its boundary, so a bad input gives a
``ValueError`` / ``TypeError`` saying what was wrong, never a bare
``LinAlgError`` or a silent NaN.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_matrix",
    "check_pair",
    "check_choice",
    "check_nonzero",
    "check_alpha",
    "check_rdms",
    "clip_unit",
]


def check_matrix(X, name: str = "X", *, min_samples: int = 2, min_features: int = 1) -> np.ndarray:
    """Return ``X`` as a finite float64 ``(samples, features)`` array or raise.

    Float64 input is returned without a copy; other real dtypes (float32,
    integers, booleans) are converted.
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a numeric array of shape (samples, features), got {type(X).__name__}")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic array-likes
        raise TypeError(f"{name} could not be converted to a numpy array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}; convert it with np.asarray({name}, dtype=float)"
        )
    if arr.ndim != 2:
        hint = (
            " (a trajectory array (condition, time, unit) must be flattened to (condition*time, unit) first,"
            " e.g. with neurosim.trajectories' flatten helper or X.reshape(-1, X.shape[-1]))"
            if arr.ndim == 3
            else " (use X.reshape(-1, 1) for a single feature)" if arr.ndim == 1 else ""
        )
        raise ValueError(f"{name} must be 2-D (samples, features), got {arr.ndim}-D with shape {arr.shape}{hint}")
    arr = np.asarray(arr, dtype=np.float64)
    n, p = arr.shape
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows), got {n}")
    if p < min_features:
        raise ValueError(f"{name} needs at least {min_features} feature(s) (columns), got {p}")
    # a NaN or inf anywhere makes the sum non-finite (cheap); only then look element-wise
    # (a finite array whose sum overflows is checked element-wise too and passes)
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if not np.isfinite(total) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        count = int((~np.isfinite(arr)).sum())
        raise ValueError(
            f"{name} contains {count} non-finite value(s) ({kind} first at row {bad[0]}, column {bad[1]}); "
            "drop or impute them before comparing"
        )
    return arr


def check_pair(X, Y, *, names=("X", "Y"), min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate two matrices that must share their samples (rows)."""
    X = check_matrix(X, names[0], min_samples=min_samples)
    Y = check_matrix(Y, names[1], min_samples=min_samples)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of samples (rows, matched conditions/time "
            f"points), got {X.shape[0]} and {Y.shape[0]}"
        )
    return X, Y


def check_nonzero(norm: float, name: str = "X", what: str = "after centering") -> None:
    """Raise if a norm is zero (constant data has no shape to compare)."""
    if not norm > 0.0 or not np.isfinite(norm):
        raise ValueError(
            f"{name} has zero norm {what} (all-constant data has no geometry to compare); "
            "check that the array is not constant or empty of signal"
        )


def check_choice(value, options: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``options``; otherwise raise with a did-you-mean."""
    options = list(options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {options}, got {type(value).__name__}")
    if value in options:
        return value
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown {name} {value!r}{hint} (valid: {', '.join(options)})")


def check_alpha(alpha) -> float:
    """The shape-metric regularisation must be a number in [0, 1]."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1] (1 = Procrustes, 0 = CCA), got {a}")
    return a


def check_rdms(a, name: str = "rdm") -> tuple[np.ndarray, bool]:
    """Return a 2-D stack of condensed RDM vectors and whether the input was a single RDM.

    Accepts a condensed vector ``(m,)``, a square RDM ``(K, K)``, a stack of condensed
    vectors ``(N, m)`` or a stack of square RDMs ``(N, K, K)``.
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    single = False
    if arr.ndim == 1:
        single = True
        arr = arr[None, :]
    elif arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.shape[0] > 1 and _is_square_rdm(arr):
        single = True
        arr = _condense(arr, name)[None, :]
    elif arr.ndim == 3:
        if arr.shape[1] != arr.shape[2]:
            raise ValueError(f"{name}: a 3-D stack must hold square RDMs (N, K, K), got shape {arr.shape}")
        arr = np.stack([_condense(m, f"{name}[{i}]") for i, m in enumerate(arr)])
    elif arr.ndim != 2:
        raise ValueError(
            f"{name} must be a condensed RDM (m,), a square RDM (K, K) or a stack of them, got shape {arr.shape}"
        )
    m = arr.shape[1]
    k = (1 + np.sqrt(1 + 8 * m)) / 2
    if m < 2 or k != int(k):
        raise ValueError(
            f"{name}: length {m} is not a condensed RDM length K(K-1)/2 for K >= 3 conditions; "
            "pass scipy-ordered condensed vectors (scipy.spatial.distance.squareform) or square matrices"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf dissimilarities; remove those conditions first")
    return arr, single


def _is_square_rdm(arr: np.ndarray) -> bool:
    return bool(np.allclose(np.diag(arr), 0.0) and np.allclose(arr, arr.T))


def _condense(mat: np.ndarray, name: str) -> np.ndarray:
    if not _is_square_rdm(mat):
        raise ValueError(f"{name}: a square RDM must be symmetric with a zero diagonal")
    iu = np.triu_indices(mat.shape[0], k=1)
    return mat[iu]


def clip_unit(c):
    """Clip cosines into [-1, 1] so arccos of identical inputs gives 0, not NaN."""
    return np.clip(c, -1.0, 1.0)
