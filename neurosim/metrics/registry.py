"""String ids for every measure, following the similarity-repository naming.

``make(name)`` returns a :class:`Measure`: a callable ``measure(X, Y, **options) -> float``
that also carries ``.name``, ``.direction`` (``"distance"``: 0 = identical, lower is
closer; ``"similarity"``: 1 = identical, higher is closer), ``.units``, ``.description``
and ``.input``: ``"samples"`` for kernels on ``(samples, features)`` matrices,
``"trajectories"`` for kernels that need ``(trajectories, time, units)`` arrays (DSA,
``dsa-score=…``), which a caller must not flatten, and ``"trials"`` for kernels on single
trials ``(condition, trial, unit)`` (``gaussian-shape-distance=alpha={0..2}``,
``energy-shape-distance``, ``procrustes-distance={angular|euclidean}-estimator=bias_corrected``,
``cka-kernel=linear-estimator=bias_corrected-score``).  ``measures()`` lists the ids.

Ids follow Cloos, Yang & Cueva (2024), e.g. ``"procrustes-distance=angular"``,
``"cka-kernel=linear-hsic=gretton-score"``, ``"rsa-rdm=correlation-compare=spearman"``,
plus the parametric ``"shape_metric-alpha={alpha}-distance={angular|euclidean}"``.
Short aliases used by :func:`neurosim.compare` (``metric="procrustes"``) map to the
function itself, so its keyword options pass through:

========== ============================================================ ===========
alias       function                                                     direction
========== ============================================================ ===========
procrustes  :func:`~neurosim.metrics.shape.procrustes_distance`          distance
shape       :func:`~neurosim.metrics.shape.shape_distance` (``alpha=``)  distance
cca         :func:`~neurosim.metrics.shape.cca_distance`                 distance
cka         :func:`~neurosim.metrics.cka.cka`                            similarity
rsa         :func:`~neurosim.metrics.rsa.rsa`                            similarity
dsa         :func:`~neurosim.metrics.dynamics.dsa_distance` (trajectories)  distance
ridge       :func:`~neurosim.metrics.predictivity.ridge_predictivity`    similarity
========== ============================================================ ===========

``ridge`` (alias ``predictivity``; ids ``ridge-score=pearson``, ``ridge-score=r2``) takes
``(conditions, time, units)`` arrays (``.input == "conditions"``): its cross-validation
folds are conditions.
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neurosim.metrics._validate import check_flag
from neurosim.metrics.bias_corrected import bias_corrected_cka, bias_corrected_procrustes_distance
from neurosim.metrics.cca import cca_similarity
from neurosim.metrics.cka import cka
from neurosim.metrics.dynamics import TRAJECTORY_INPUT, dsa_distance
from neurosim.metrics.predictivity import CONDITION_INPUT, ridge_predictivity
from neurosim.metrics.rsa import rsa
from neurosim.metrics.shape import cca_distance, procrustes_distance, shape_distance
from neurosim.metrics.stochastic import TRIAL_INPUT, energy_shape_distance, gaussian_shape_distance

__all__ = ["Measure", "make", "measures"]


@dataclass(frozen=True)
class Measure:
    """A named measure: ``measure(X, Y, **options)`` with its direction and units.

    Fixed options from the id take precedence; passing a conflicting value raises
    ``TypeError``, and so does an option the measure does not take (the message lists
    :attr:`accepts`).  ``symmetric`` says whether ``measure(X, Y) == measure(Y, X)``
    (e.g. PWCCA is not: its weights come from one side), which
    :func:`neurosim.pairwise` uses to decide whether one triangle suffices.
    """

    name: str
    func: Callable
    direction: str
    units: str
    description: str
    options: dict = field(default_factory=dict)
    transform: Callable | None = None
    input: str = "samples"
    symmetric: bool = True

    @property
    def accepts(self) -> tuple[str, ...] | None:
        """Keyword options a caller may still pass (None: any, the function takes ``**kwargs``)."""
        params = list(inspect.signature(self.func).parameters.values())
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        names = [p.name for p in params[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return tuple(n for n in names if n not in self.options)

    def check_options(self, options) -> None:
        """Raise ``TypeError`` for options fixed by the id or not taken by the measure."""
        clash = sorted(set(options) & set(self.options))
        if clash:
            raise TypeError(f"measure {self.name!r} fixes {clash} already; use a different id instead")
        accepts = self.accepts
        if accepts is not None:
            unknown = sorted(set(options) - set(accepts))
            if unknown:
                takes = ", ".join(accepts) if accepts else "no options"
                raise TypeError(
                    f"measure {self.name!r} does not take option(s) {unknown}; it takes: {takes}"
                )

    def __call__(self, X, Y, **options) -> float:
        self.check_options(options)
        value = self.func(X, Y, **self.options, **options)
        return float(self.transform(value)) if self.transform is not None else value

    def __repr__(self) -> str:
        return f"Measure({self.name!r}, direction={self.direction!r})"


_REGISTRY: dict[str, Measure] = {}


def _add(name, func, direction, units, description, transform=None, symmetric=True, **options):
    _REGISTRY[name] = Measure(name, func, direction, units, description, dict(options), transform,
                              symmetric=symmetric)


def _populate() -> None:
    for kind in ("angular", "euclidean"):
        unit = "radians" if kind == "angular" else "data units"
        _add(f"procrustes-distance={kind}", procrustes_distance, "distance", unit,
             f"Procrustes (rotation-invariant) shape distance, {kind}", kind=kind)
        _add(f"cca-distance={kind}", cca_distance, "distance", unit,
             f"CCA (linear-invariant) shape distance, {kind}", kind=kind)
    _add("procrustes-angular_score", procrustes_distance, "similarity", "unitless [0, 1]",
         "1 - angular Procrustes distance / (π/2)", kind="angular", normalize=True,
         transform=lambda d: 1.0 - d)
    _add("procrustes-distance=angular-normalized", procrustes_distance, "distance", "unitless [0, 1]",
         "angular Procrustes distance / (π/2) (Liu, Yang & Cueva 2025)", kind="angular", normalize=True)
    _add("nbs", procrustes_distance, "similarity", "unitless [0, 1]",
         "normalized Bures similarity = cos(angular Procrustes distance)", kind="angular",
         transform=np.cos)
    _add("cca-score", cca_similarity, "similarity", "unitless [0, 1]", "mean canonical correlation", kind="mean")
    _add("cca-squared_score", cca_similarity, "similarity", "unitless [0, 1]",
         "mean squared canonical correlation (Yanai)", kind="mean_squared")
    _add("cca-angular_score", cca_distance, "similarity", "unitless [0, 1]",
         "1 - angular CCA distance / (π/2)", kind="angular", normalize=True, transform=lambda d: 1.0 - d)
    for var in (0.95, 0.99):
        _add(f"svcca-var={var}-score", cca_similarity, "similarity", "unitless [0, 1]",
             f"SVCCA keeping {var:.0%} variance, mean canonical correlation", kind="svcca", keep=var)
    _add("pwcca-score", cca_similarity, "similarity", "unitless [0, 1]",
         "projection-weighted CCA (asymmetric: weights from the side with fewer independent features)",
         symmetric=False, kind="pwcca")
    for hsic, debiased in (("gretton", False), ("song", True)):
        for kernel in ("linear", "rbf"):
            kname = kernel if kernel == "linear" else "(rbf-sigma=median)"
            _add(f"cka-kernel={kname}-hsic={hsic}-score", cka, "similarity", "unitless [0, 1]",
                 f"CKA, {kernel} kernel, {'unbiased (Song)' if debiased else 'biased (Gretton)'} HSIC",
                 kernel=kernel, debiased=debiased)
        _add(f"cka-kernel=linear-hsic={hsic}-distance=angular", cka, "distance", "radians",
             "arccos of linear CKA", kernel="linear", debiased=debiased,
             transform=lambda c: np.arccos(np.clip(c, -1.0, 1.0)))
    rdm_ids = {"correlation": "correlation", "euclidean": "euclidean", "squared_euclidean": "sqeuclidean",
               "cosine": "cosine"}
    cmp_ids = {"spearman": "spearman", "corr": "pearson", "cosine": "cosine", "tau_a": "kendall_tau_a",
               "rho_a": "spearman_rho_a", "cosine_cov": "whitened_cosine"}
    for rid, rm in rdm_ids.items():
        for cid, cm in cmp_ids.items():
            _add(f"rsa-rdm={rid}-compare={cid}", rsa, "similarity", "unitless [-1, 1]",
                 f"RSA: {rm} RDMs compared by {cm}", rdm_method=rm, compare=cm)


_populate()


def _populate_dynamics() -> None:
    units = {"angular": "radians", "wasserstein": "eigenvalue units"}
    for score, unit in units.items():
        name = f"dsa-score={score}"
        _REGISTRY[name] = Measure(name, dsa_distance, "distance", unit,
                                  f"Dynamical Similarity Analysis, {score} score (Ostrow et al. 2023)",
                                  {"score": score}, None, TRAJECTORY_INPUT)


_populate_dynamics()


def _populate_predictivity() -> None:
    units = {"pearson": "unitless [-1, 1] (median Pearson r)", "r2": "unitless (median R², at most 1)"}
    for score, unit in units.items():
        name = f"ridge-score={score}"
        _REGISTRY[name] = Measure(name, ridge_predictivity, "similarity", unit,
                                  f"cross-validated ridge predictivity per recorded unit, median {score}",
                                  {"score": score}, None, CONDITION_INPUT, symmetric=False)


_populate_predictivity()


_GAUSSIAN_ALPHAS = (0.0, 0.5, 1.0, 1.5, 2.0)


def _gaussian_measure(alpha: float) -> Measure:
    what = {0.0: "covariances only", 1.0: "2-Wasserstein", 2.0: "means only"}.get(alpha, "interpolated")
    name = f"gaussian-shape-distance=alpha={alpha:g}"
    return Measure(name, gaussian_shape_distance, "distance", "data units",
                   f"Gaussian stochastic shape distance, alpha={alpha:g} ({what}; Duong et al. 2023, netrep)",
                   {"alpha": alpha}, None, TRIAL_INPUT)


def _populate_stochastic() -> None:
    for alpha in _GAUSSIAN_ALPHAS:
        m = _gaussian_measure(alpha)
        _REGISTRY[m.name] = m
    _REGISTRY["energy-shape-distance"] = Measure(
        "energy-shape-distance", energy_shape_distance, "distance", "sqrt(data units)",
        "energy stochastic shape distance over single trials (Duong et al. 2023, netrep)", {}, None, TRIAL_INPUT)
    for kind in ("angular", "euclidean"):
        name = f"procrustes-distance={kind}-estimator=bias_corrected"
        _REGISTRY[name] = Measure(
            name, bias_corrected_procrustes_distance, "distance", "radians" if kind == "angular" else "data units",
            f"Procrustes distance ({kind}) of the true condition means, corrected for finite trials",
            {"kind": kind}, None, TRIAL_INPUT)
    name = "cka-kernel=linear-estimator=bias_corrected-score"
    _REGISTRY[name] = Measure(name, bias_corrected_cka, "similarity", "unitless",
                              "linear CKA of the true condition means, corrected for finite trials",
                              {}, None, TRIAL_INPUT)


_populate_stochastic()

_ALIASES: dict[str, Measure] = {
    "procrustes": Measure("procrustes", procrustes_distance, "distance", "radians",
                          "angular Procrustes distance (options pass through)"),
    "shape": Measure("shape", shape_distance, "distance", "radians",
                     "generalized shape distance (pass alpha=..., kind=...)"),
    "cca": Measure("cca", cca_distance, "distance", "radians", "angular CCA shape distance"),
    "cka": Measure("cka", cka, "similarity", "unitless [0, 1]", "linear CKA (options pass through)"),
    "rsa": Measure("rsa", rsa, "similarity", "unitless [-1, 1]", "RSA, correlation RDMs + Spearman"),
    "dsa": Measure("dsa", dsa_distance, "distance", "radians",
                   "DSA, angular score (options pass through)", input=TRAJECTORY_INPUT),
    "ridge": Measure("ridge", ridge_predictivity, "similarity", "unitless (median per-unit score)",
                     "cross-validated ridge predictivity (options pass through)", input=CONDITION_INPUT,
                     symmetric=False),
    "predictivity": Measure("predictivity", ridge_predictivity, "similarity", "unitless (median per-unit score)",
                            "cross-validated ridge predictivity (options pass through)", input=CONDITION_INPUT,
                            symmetric=False),
}

_GAUSSIAN_RE = re.compile(r"^gaussian-shape-distance=alpha=([0-9]*\.?[0-9]+)$")
_SHAPE_RE = re.compile(r"^shape_metric-alpha=([0-9]*\.?[0-9]+)-distance=(angular|euclidean)$")


def measures(*, aliases: bool = False) -> list[str]:
    """Sorted list of the registered measure ids (and the short aliases if ``aliases=True``).

    The parametric family ``shape_metric-alpha={alpha}-distance={angular|euclidean}``
    accepts any alpha in [0, 1]; two members (alpha=0.5) are listed as examples.

    Examples
    --------
    >>> "procrustes-distance=angular" in measures()
    True
    """
    names = sorted(_REGISTRY) + [f"shape_metric-alpha=0.5-distance={k}" for k in ("angular", "euclidean")]
    if check_flag(aliases, "aliases"):
        names += sorted(_ALIASES)
    return names


def make(name: str) -> Measure:
    """Return the measure registered under ``name`` (id or short alias).

    Parameters
    ----------
    name : str
        e.g. ``"procrustes-distance=angular"``, ``"cka-kernel=linear-hsic=gretton-score"``,
        ``"rsa-rdm=correlation-compare=spearman"``, ``"shape_metric-alpha=0.5-distance=angular"``
        or an alias (``"procrustes"``, ``"shape"``, ``"cca"``, ``"cka"``, ``"rsa"``).
        A ``"measure/"`` or ``"measure/neurosim/"`` prefix is accepted.

    Returns
    -------
    Measure
        Callable ``(X, Y, **options) -> float`` with ``.direction`` ("distance" or
        "similarity") and ``.units``.

    Raises
    ------
    ValueError
        For an unknown name, with the closest ids suggested.

    Examples
    --------
    >>> import numpy as np
    >>> m = make("procrustes-distance=angular")
    >>> m.direction
    'distance'
    >>> X = np.random.default_rng(0).normal(size=(20, 4))
    >>> round(m(X, X), 6)
    0.0
    """
    if not isinstance(name, str):
        raise TypeError(f"measure name must be a string, got {type(name).__name__}")
    key = name.strip()
    for prefix in ("measure/neurosim/", "measure/", "neurosim/"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key in _ALIASES:
        return _ALIASES[key]
    match = _SHAPE_RE.match(key)
    if match:
        alpha = float(match.group(1))
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"{name!r}: alpha must lie in [0, 1], got {alpha}")
        kind = match.group(2)
        return Measure(key, shape_distance, "distance", "radians" if kind == "angular" else "data units",
                       f"generalized shape metric, alpha={alpha}, {kind}", {"alpha": alpha, "kind": kind})
    match = _GAUSSIAN_RE.match(key)
    if match:
        alpha = float(match.group(1))
        if not 0.0 <= alpha <= 2.0:
            raise ValueError(f"{name!r}: alpha must lie in [0, 2], got {alpha}")
        return _gaussian_measure(alpha)
    close = difflib.get_close_matches(key, measures(aliases=True), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown measure {name!r}{hint} (see neurosim.measures() for the full list)")
