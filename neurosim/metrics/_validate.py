"""Input checks shared by every metric, in one place, with messages that name the fix.

Every public metric calls these at its boundary, so a bad input gives a
``ValueError`` / ``TypeError`` saying what was wrong, never a bare
``LinAlgError`` or a silent NaN.

Besides the checks, two numerical services live here:

* :func:`rescale` -- multiply by a power of two (exact in floating point) so the largest
  magnitude is about 1. Every similarity here is invariant to isotropic scaling, so the
  kernels compute on rescaled data and the result is exact at any float64 scale
  (no overflow of squares or fourth powers, no underflow into subnormals).
* :func:`check_memory` -- refuse to allocate an n×n matrix that would not fit. The limit
  is ``NEUROSIM_MAX_MEMORY`` (bytes, or with a unit: ``"8GB"``, ``"500MB"``); default 4 GB.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable

import numpy as np

__all__ = [
    "DroppedDirectionsWarning",
    "check_matrix",
    "check_pair",
    "check_choice",
    "check_nonzero",
    "check_alpha",
    "check_rdms",
    "check_count",
    "check_finite",
    "check_flag",
    "check_number",
    "check_metric_value",
    "refuse_masked",
    "check_not_constant",
    "check_seed",
    "check_memory",
    "memory_limit",
    "rescale",
    "clip_unit",
]


class DroppedDirectionsWarning(UserWarning):
    """Directions with singular values at float64 rounding level were treated as zero (rank decision)."""


def caller_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first frame outside ``neurosim.metrics``."""
    frame = sys._getframe(1)  # the function that is about to warn
    level = 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("neurosim.metrics"):
        frame = frame.f_back
        level += 1
    return level


# magnitudes outside [2**-64, 2**64] are rescaled before any product (fourth powers of
# values inside this range, summed over up to 2**40 terms, stay within float64's range)
_SAFE_EXP = 64


def rescale(X: np.ndarray, exponent: int | None = None) -> tuple[np.ndarray, int]:
    """Return ``(X · 2**-e, e)`` with ``2**(e-1) <= max|X| < 2**e``, or ``(X, 0)`` if no rescaling is needed.

    Multiplying by a power of two is exact (apart from entries that fall below the
    smallest normal number, which then lose relative weight ``< 2**-1000``), so any
    scale-invariant quantity computed on the result equals the one of ``X``.  Pass
    ``exponent`` to apply a given common scale (for scale-dependent quantities such as
    euclidean distances, which are then multiplied back with ``np.ldexp(d, e)``).
    """
    if exponent is None:
        m = float(np.max(np.abs(X))) if X.size else 0.0
        if m == 0.0 or not np.isfinite(m):
            return X, 0
        e = int(np.frexp(m)[1])
        if -_SAFE_EXP <= e <= _SAFE_EXP:
            return X, 0
    else:
        e = int(exponent)
        if e == 0:
            return X, 0
    return np.ldexp(X, -e), e


def scale_exponent(X: np.ndarray) -> int:
    """Binary exponent ``e`` with ``2**(e-1) <= max|X| < 2**e`` (0 for an all-zero array)."""
    m = float(np.max(np.abs(X))) if X.size else 0.0
    return int(np.frexp(m)[1]) if m > 0.0 and np.isfinite(m) else 0


def common_exponent(X: np.ndarray, Y: np.ndarray) -> int:
    """One exponent for a pair that must keep its relative scale (euclidean distances); 0 if safe."""
    e = max(scale_exponent(X), scale_exponent(Y))
    return 0 if -_SAFE_EXP <= e <= _SAFE_EXP else e


def _describe_nonfinite(arr: np.ndarray, name: str) -> str:
    bad = ~np.isfinite(arr)
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(bad.sum()) - n_nan
    first = np.argwhere(bad)[0]
    where = ", ".join(str(int(i)) for i in first)
    parts = [f"{n_nan} NaN" if n_nan else "", f"{n_inf} inf" if n_inf else ""]
    return (
        f"{name} contains {' and '.join(p for p in parts if p)} value(s) (first at index ({where})); "
        "drop or impute them before comparing"
    )


def refuse_masked(X, name: str):
    """Masked arrays carry values numpy would silently use; refuse unless nothing is masked.

    Returns the plain data of a masked array without masked entries, ``X`` itself otherwise.
    """
    if isinstance(X, np.ma.MaskedArray):
        n_masked = int(np.ma.count_masked(X))
        if n_masked:
            raise TypeError(
                f"{name} is a masked array with {n_masked} masked value(s); metrics do not skip masked "
                f"entries: fill them ({name}.filled(value)) or drop the masked rows/columns first"
            )
        return np.ma.getdata(X)
    return X


_refuse_masked = refuse_masked  # the name the metric modules use


def check_matrix(X, name: str = "X", *, min_samples: int = 2, min_features: int = 1) -> np.ndarray:
    """Return ``X`` as a finite float64 ``(samples, features)`` array or raise.

    Float64 input is returned without a copy; other real dtypes (float32,
    integers, booleans) are converted.  Masked arrays with masked entries are
    refused (nothing here would honour the mask).
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a numeric array of shape (samples, features), got {type(X).__name__}")
    X = _refuse_masked(X, name)
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
        raise ValueError(_describe_nonfinite(arr, name))
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
    """Raise if a norm is zero (constant data has no shape to compare) or not finite."""
    if np.isnan(norm):
        raise ValueError(f"{name} has a NaN norm {what}; it contains NaN values: drop or impute them first")
    if not np.isfinite(norm):
        raise ValueError(
            f"{name} has an infinite norm {what}: it contains inf, or values too large to square in "
            "float64; drop non-finite values or rescale the data"
        )
    if not norm > 0.0:
        raise ValueError(
            f"{name} has zero norm {what} (all-constant data has no geometry to compare); "
            "check that the array is not constant or empty of signal"
        )


def check_not_constant(X: np.ndarray, name: str = "X") -> None:
    """Raise if every row of ``X`` is identical (centring would leave only rounding noise)."""
    if X.shape[0] > 0 and bool(np.all(X == X[0])):
        raise ValueError(
            f"{name} has zero norm after centering: every sample (row) is identical, so there is no "
            "geometry to compare; check that the array is not constant or empty of signal"
        )


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise naming NaN/inf counts if ``arr`` is not all finite."""
    if not np.isfinite(arr).all():
        raise ValueError(_describe_nonfinite(arr, name))


def check_count(value, name: str, *, minimum: int = 1, allow_none: bool = False):
    """An integer count argument (``n_splits``, ``n_components`` ...): ints only, bools refused."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        kind = "a bool" if isinstance(value, (bool, np.bool_)) else type(value).__name__
        raise TypeError(
            f"{name} must be an integer >= {minimum}{' or None' if allow_none else ''}, got {value!r} ({kind})"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_flag(value, name: str) -> bool:
    """A True/False option (``center``, ``resample``, ``fast``, ``resume`` ...): the one strict-boolean check.

    Only ``True``/``False`` (and numpy booleans) pass: a string such as ``"no"`` would be truthy,
    and a number hides a mistake, so both are refused with a message naming the argument.

    Examples
    --------
    >>> check_flag(False, "resample")
    False
    >>> check_flag("no", "resample")
    Traceback (most recent call last):
    ...
    TypeError: resample must be True or False, got 'no' (str); pass the boolean itself, e.g. resample=False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be True or False, got {value!r} ({type(value).__name__}); pass the boolean itself, "
            f"e.g. {name}=False"
        )
    return bool(value)


def check_number(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 low_open: bool = False, high_open: bool = False, allow_none: bool = False):
    """A real, finite number argument (``lag``, ``ci``, ``sigma`` ...) in ``[minimum, maximum]``.

    Strings, booleans, None (unless ``allow_none``) and NaN/inf are refused with a message naming
    ``name``; ``low_open``/``high_open`` exclude the bounds.  Returns a Python float.

    Examples
    --------
    >>> check_number(0.5, "ci", minimum=0, maximum=1, low_open=True, high_open=True)
    0.5
    >>> check_number("ten", "lag")
    Traceback (most recent call last):
    ...
    TypeError: lag must be a real number, got 'ten' (str)
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number{' or None' if allow_none else ''}, got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    lo_bad = minimum is not None and (v <= minimum if low_open else v < minimum)
    hi_bad = maximum is not None and (v >= maximum if high_open else v > maximum)
    if lo_bad or hi_bad:
        lo = "" if minimum is None else f"{'(' if low_open else '['}{minimum:g}"
        hi = "" if maximum is None else f"{maximum:g}{')' if high_open else ']'}"
        where = (f"in {lo}, {hi}" if minimum is not None and maximum is not None
                 else f"{'>' if low_open else '>='} {minimum:g}" if minimum is not None
                 else f"{'<' if high_open else '<='} {maximum:g}")
        raise ValueError(f"{name} must be {where}, got {v:g}")
    return v


def check_seed(seed, name: str = "seed"):
    """A seed for ``numpy.random.default_rng``: None, a non-negative int or a Generator."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, None or a numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer (numpy seeds cannot be negative), got {seed}")
    return int(seed)


def check_metric_value(value, metric: str) -> float:
    """The value a user-supplied metric returned: a real, finite number, or a clear error naming the metric.

    A NaN would otherwise flow silently into scores, confidence intervals and pairwise matrices.

    Examples
    --------
    >>> check_metric_value(0.25, "my_metric")
    0.25
    """
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"metric {metric!r} returned {value!r} ({type(value).__name__}); a metric must return one "
                        "real number (a float)")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"metric {metric!r} returned {v}; a metric must return a finite number -- check its inputs "
                         "(constant or NaN data?) or make it raise a clear error itself")
    return v


_UNITS = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20,
          "GIB": 2**30, "TIB": 2**40}
_DEFAULT_MEMORY = 4e9


def memory_limit() -> float:
    """Largest temporary allocation (bytes) a metric may make: ``$NEUROSIM_MAX_MEMORY`` or 4 GB.

    The variable takes a number of bytes or a number with a unit (``"16GB"``, ``"500MB"``,
    ``"2GiB"``); ``"0"`` or ``"none"`` disables the check.

    Examples
    --------
    >>> memory_limit() > 0
    True
    """
    raw = os.environ.get("NEUROSIM_MAX_MEMORY")
    if raw is None or not raw.strip():
        return _DEFAULT_MEMORY
    text = raw.strip().upper().replace(" ", "")
    if text in ("0", "NONE", "INF", "OFF"):
        return float("inf")
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:E[0-9]+)?)([KMGT]I?B|B)?", text)
    hint = "use bytes or a number with a unit, e.g. '16GB' or '500MB' ('none' turns the check off)"
    if not m:
        raise ValueError(f"NEUROSIM_MAX_MEMORY={raw!r} is not a size; {hint}")
    value = float(m.group(1)) * _UNITS[m.group(2) or ""]
    if not (np.isfinite(value) and 1.0 <= value <= 2.0**64):
        raise ValueError(f"NEUROSIM_MAX_MEMORY={raw!r} is not a usable size (between 1 byte and 16 EiB); {hint}")
    return value


def check_memory(nbytes: float, what: str, alternatives: str) -> None:
    """Refuse an allocation larger than :func:`memory_limit`, stating the estimate and what to do instead."""
    limit = memory_limit()
    if nbytes > limit:
        raise MemoryError(
            f"{what} would need about {nbytes / 1e9:.3g} GB of memory (limit {limit / 1e9:.3g} GB); "
            f"{alternatives}; or raise the limit with the environment variable NEUROSIM_MAX_MEMORY "
            "(e.g. NEUROSIM_MAX_MEMORY=64GB)"
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
    """The shape-metric regularisation must be a real number in [0, 1] (strings and booleans refused)."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"alpha must be a number in [0, 1] (1 = Procrustes, 0 = CCA), got {alpha!r} ({type(alpha).__name__})"
        )
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1] (1 = Procrustes, 0 = CCA), got {a}")
    return a


def check_rdms(a, name: str = "rdm") -> tuple[np.ndarray, bool]:
    """Return a 2-D stack of condensed RDM vectors and whether the input was a single RDM.

    Accepts a condensed vector ``(m,)``, a square RDM ``(K, K)`` (symmetric, zero
    diagonal), a stack of condensed vectors ``(N, m)`` or a stack of square RDMs
    ``(N, K, K)``.  A square 2-D input that has a zero diagonal or is symmetric, but not
    both, is refused (it is almost surely a malformed RDM, not a stack of vectors).
    """
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be an RDM array (condensed vector or square matrix), got {type(a).__name__}")
    a = _refuse_masked(a, name)
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(_describe_nonfinite(arr, name).replace("before comparing", "(or remove those conditions)"))
    single = False
    if arr.ndim == 1:
        single = True
        arr = arr[None, :]
    elif arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.shape[0] > 1:
        zero_diag, symmetric = _square_properties(arr)
        if zero_diag and symmetric:
            single = True
            arr = _condense(arr, name)[None, :]
        elif zero_diag or symmetric:
            problem = "is not symmetric" if zero_diag else "has a non-zero diagonal"
            raise ValueError(
                f"{name} is a square ({arr.shape[0]}, {arr.shape[1]}) matrix that {problem}; a square RDM must be "
                "symmetric with a zero diagonal (symmetrise with (D + D.T) / 2, or pass similarities as 1 - S). "
                f"To pass {arr.shape[0]} condensed RDMs of length {arr.shape[1]}, pass them as a 3-D stack of "
                "square RDMs (scipy.spatial.distance.squareform each) instead"
            )
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
    return arr, single


def _square_properties(arr: np.ndarray) -> tuple[bool, bool]:
    """(zero diagonal, symmetric), both with a tolerance relative to the matrix's magnitude."""
    scale = float(np.max(np.abs(arr))) if arr.size else 0.0
    tol = 1e-10 * scale
    zero_diag = bool(np.all(np.abs(np.diag(arr)) <= tol))
    symmetric = bool(np.all(np.abs(arr - arr.T) <= tol + 1e-10 * np.abs(arr)))
    return zero_diag, symmetric


def _condense(mat: np.ndarray, name: str) -> np.ndarray:
    zero_diag, symmetric = _square_properties(mat)
    if not (zero_diag and symmetric):
        problem = "is not symmetric" if zero_diag else "has a non-zero diagonal"
        raise ValueError(f"{name}: a square RDM must be symmetric with a zero diagonal, but this one {problem}")
    iu = np.triu_indices(mat.shape[0], k=1)
    return mat[iu]


def clip_unit(c):
    """Clip cosines into [-1, 1] so arccos of identical inputs gives 0, not NaN."""
    return np.clip(c, -1.0, 1.0)
