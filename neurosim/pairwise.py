"""Labelled K×K distance matrices over many networks, computed once per network.

For the generalized shape metrics (Williams et al. 2021) the work splits into a
per-network part and a per-pair part:

    prepare(X)                 centering + partial whitening       K times
    prepared_distance(A, B)    one cross-product A^T B + its SVD   K(K-1)/2 times

(see :func:`neurosim.metrics.shape.prepare` and
:func:`neurosim.metrics.shape.prepared_distance`), so a K×K matrix costs K
preprocessing steps and K(K-1)/2 SVDs, not K^2 of each. Other metrics (any
registry id of :func:`neurosim.make`, or a callable ``f(X, Y) -> float``) fall
back to one call per pair.

Trajectory metrics (``Measure.input == "trajectories"``: DSA, ``"dsa"``,
``"dsa-score=angular|wasserstein"``, or a callable carrying ``.input =
"trajectories"``) get ``(condition, time, unit)`` arrays, never flattened samples; for
DSA each network is fitted once (:func:`neurosim.metrics.dynamics.dsa_prepare`) and
each pair compared after (:func:`neurosim.metrics.dynamics.dsa_compare`).

Metrics whose folds or samples follow labels — ridge predictivity (``input ==
"conditions"``: folds by condition) and the single-trial metrics (``input == "trials"``:
Gaussian and energy shape distances, the bias-corrected estimators) — take a dict of
labelled DataArrays and score each pair with :func:`neurosim.compare` (row = model side,
column = data side; every ordered pair for an asymmetric measure such as ridge).

Scale-out: pass ``client=`` a :class:`dask.distributed.Client`. The per-network
preprocessing runs as K tasks on the cluster, the pairs are cut into blocks that
depend on those results (so prepared arrays move to workers once), and every task
limits BLAS to the worker's thread budget with :mod:`threadpoolctl`, so
``n_workers × threads`` never oversubscribes a small machine. Without a client
the work runs locally in this process, with no set-up.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from neurosim._threads import blas_threads
from neurosim.metrics import make
from neurosim.metrics._validate import check_alpha, check_count, check_flag, check_matrix, check_memory, check_metric_value
from neurosim.compare import compare
from neurosim.metrics.dynamics import TRAJECTORY_INPUT, dsa_compare, dsa_distance, dsa_prepare
from neurosim.metrics.predictivity import CONDITION_INPUT
from neurosim.metrics.shape import prepare, prepared_distance, shape_memory
from neurosim.metrics.stochastic import TRIAL_INPUT
from neurosim.trajectories import flatten

__all__ = ["pairwise", "SHAPE_METRICS"]

#: metric name -> alpha of the shape-metric continuum (1 = Procrustes, 0 = CCA)
SHAPE_METRICS = {"procrustes": 1.0, "cca": 0.0, "shape": None}
_KINDS = ("angular", "euclidean")


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def _to_matrix(name: str, value: Any) -> tuple[np.ndarray, Any]:
    """(samples, features) float64 array and a sample key used to check alignment."""

    if isinstance(value, xr.DataArray):
        if {"condition", "time", "unit"} <= set(value.dims):

            da = value.mean("trial") if "trial" in value.dims else value
            da = da.transpose("condition", "time", "unit")
            key = (tuple(np.asarray(da["condition"].values).tolist()) if "condition" in da.coords else None,
                   tuple(np.round(np.asarray(da["time"].values, dtype=float), 9).tolist())
                   if "time" in da.coords else None)
            return flatten(da, name=f"collection[{name!r}]"), key
        if value.ndim != 2:
            raise ValueError(
                f"collection[{name!r}] is a DataArray with dims {tuple(value.dims)}; expected "
                "('condition', 'time', 'unit') trajectories or a 2-D (samples, features) array"
            )
        sample_dim = value.dims[0]
        key = tuple(np.asarray(value[sample_dim].values).tolist()) if sample_dim in value.coords else None
        return check_matrix(value.values, name=f"collection[{name!r}]"), key
    return check_matrix(value, name=f"collection[{name!r}]"), None


def _as_collection(collection: Any) -> tuple[list[str], list[np.ndarray]]:
    if isinstance(collection, Mapping):
        items = [(str(k), v) for k, v in collection.items()]
    elif isinstance(collection, Sequence) and not isinstance(collection, (str, bytes, np.ndarray)):
        items = []
        for i, v in enumerate(collection):
            name = getattr(v, "name", None) if isinstance(v, xr.DataArray) else None
            items.append((str(name) if name is not None else str(i), v))
    elif isinstance(collection, np.ndarray) and collection.ndim == 3:
        items = [(str(i), collection[i]) for i in range(collection.shape[0])]
    else:
        raise TypeError(
            "collection must be a dict name -> (samples, features) array / trajectory DataArray, "
            f"a list of them, or a 3-D (network, samples, features) array; got {type(collection).__name__}"
        )
    if len(items) < 2:
        raise ValueError(f"pairwise needs at least 2 networks; got {len(items)}")
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"network names must be unique; repeated: {dup}")
    mats, keys = [], []
    for n, v in items:
        m, k = _to_matrix(n, v)
        mats.append(m)
        keys.append(k)
    n_samples = {m.shape[0] for m in mats}
    if len(n_samples) > 1:
        sizes = {n: m.shape[0] for n, m in zip(names, mats)}
        raise ValueError(
            f"networks have different numbers of samples {sizes}; every network must be measured on "
            "the same (condition, time) samples — select a common window/condition set first"
        )
    ref = next((k for k in keys if k is not None), None)
    for n, k in zip(names, keys):
        if k is not None and ref is not None and k != ref:
            raise ValueError(
                f"collection[{n!r}] has different sample labels (condition/time coordinates) from the "
                "first labelled network; align them (same conditions in the same order, same time bins)"
            )
    return names, mats


def _resolve_metric(metric: Any, alpha: float | None, kind: str | None,
                    metric_options: dict) -> tuple[str, Any, bool]:
    """('shape', (alpha, kind, center, normalize), True) or ('generic', callable, symmetric).

    Options a metric does not take are refused (``TypeError`` listing what it takes),
    never silently ignored.
    """
    if callable(metric) and not isinstance(metric, str):
        if alpha is not None or kind is not None:
            raise TypeError(
                "alpha= and kind= apply to the shape metrics ('procrustes', 'cca', 'shape'); a callable metric "
                "gets its own options through **metric_options"
            )
        symmetric = getattr(metric, "symmetric", False) is True
        label = getattr(metric, "__name__", type(metric).__name__)
        return "generic", (lambda X, Y: check_metric_value(metric(X, Y, **metric_options), label)), symmetric
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a name or a callable f(X, Y) -> float; got {type(metric).__name__}")
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    shape_like = metric in SHAPE_METRICS or (
        metric.startswith("procrustes-distance=") and metric.split("=", 1)[1] in _KINDS
    )
    if shape_like:
        unknown = sorted(set(metric_options) - {"center", "normalize"})
        if unknown:
            raise TypeError(
                f"unexpected option(s) {unknown} for metric {metric!r}; it takes: alpha (metric='shape' only), "
                "kind, center, normalize"
            )

        center = check_flag(metric_options.get("center", True), "center")
        normalize = check_flag(metric_options.get("normalize", False), "normalize")
        if metric in SHAPE_METRICS:
            k = "angular" if kind is None else kind
            a = SHAPE_METRICS[metric]
            if alpha is not None:
                alpha = check_alpha(alpha)
            if metric == "shape":
                a = 1.0 if alpha is None else alpha
            elif alpha is not None and alpha != a:
                raise ValueError(f"metric={metric!r} fixes alpha={a}; use metric='shape' for alpha={alpha}")
            if not 0.0 <= a <= 1.0:
                raise ValueError(f"alpha must lie in [0, 1]; got {a}")
        else:
            k = metric.split("=", 1)[1]
            if kind is not None and kind != k:
                raise ValueError(f"metric={metric!r} fixes kind={k!r}; got kind={kind!r}")
            if alpha is not None and check_alpha(alpha) != 1.0:
                raise ValueError(f"metric={metric!r} is Procrustes (alpha=1); use metric='shape' for alpha={alpha}")
            a = 1.0
        if normalize and k != "angular":
            raise ValueError("normalize=True divides the angle by pi/2; it needs kind='angular'")
        return "shape", (a, k, center, normalize), True

    try:
        fn = make(metric)
    except (ValueError, KeyError) as exc:
        close = difflib.get_close_matches(metric, list(SHAPE_METRICS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown metric {metric!r}: {exc}.{hint}") from exc
    opts = dict(metric_options)
    for name, value in (("alpha", alpha), ("kind", kind)):
        if value is not None:
            opts[name] = value
    try:
        fn.check_options(opts)
    except TypeError as exc:
        raise TypeError(f"pairwise(metric={metric!r}): {exc}") from None
    return "generic", (lambda X, Y: check_metric_value(fn(X, Y, **opts), metric)), bool(fn.symmetric)


# ---------------------------------------------------------------------------
# tasks (module-level so dask can pickle them)
# ---------------------------------------------------------------------------
def _prepare_task(X: np.ndarray, alpha: float, center: bool, threads: int | None) -> np.ndarray:

    with blas_threads(threads):
        return prepare(X, alpha=alpha, center=center)


def _pairs_task(pairs: list[tuple[int, int]], prepared: dict, kind: str, normalize: bool,
                threads: int | None) -> list[float]:

    with blas_threads(threads):
        return [float(prepared_distance(prepared[i], prepared[j], kind=kind, normalize=normalize))
                for i, j in pairs]


def _generic_task(pairs: list[tuple[int, int]], mats: dict, fn: Callable, threads: int | None) -> list[float]:
    with blas_threads(threads):
        return [fn(mats[i], mats[j]) for i, j in pairs]


def _check_cache_memory(mats: list, alpha: float) -> None:
    """Estimate, before preparing anything, the cached per-network arrays (n x k each: k = the
    features, or n once a wide network is compressed / whitened), the largest single preparation
    and the largest pair's cross product with its SVD workspace."""
    n = mats[0].shape[0]
    ks = [m.shape[1] if (alpha == 1.0 and m.shape[1] <= n) else min(n, m.shape[1]) for m in mats]
    widest = max(m.shape[1] for m in mats)
    k_max = max(ks)
    cached = 8.0 * n * sum(ks)
    transient = max(shape_memory(n, widest, widest, alpha) / 2.0, 8.0 * 3.0 * k_max * k_max)
    check_memory(cached + transient,
                 f"pairwise shape distances of {len(mats)} networks ({n} samples; cached prepared arrays of "
                 f"{sum(ks)} columns in all)",
                 "reduce each network's features first (e.g. PCA to a few hundred components), subsample the "
                 "samples, or compute the matrix in parts (pairwise over subsets of networks)")


def _worker_threads(client: Any) -> int:
    """Smallest thread budget over the cluster's workers (1 if unknown)."""
    try:
        info = client.scheduler_info()["workers"]
        return max(1, min(int(w.get("nthreads", 1)) for w in info.values()))
    except Exception:  # pragma: no cover - exotic clients
        return 1


def _blocks(pairs: list[tuple[int, int]], n_blocks: int) -> list[list[tuple[int, int]]]:
    n_blocks = max(1, min(n_blocks, len(pairs)))
    size = -(-len(pairs) // n_blocks)
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


# ---------------------------------------------------------------------------
# trajectory metrics (DSA): per-network fits once, then pairs
# ---------------------------------------------------------------------------
_DSA_FIT_OPTIONS = ("n_delays", "delay_interval", "rank", "ragged")


def _measure_of_input(metric: Any, kinds: tuple[str, ...]) -> Any:
    """The measure / callable ``metric`` names if its ``input`` kind is one of ``kinds``, else None."""
    if isinstance(metric, str):
        try:
            m = make(metric)
        except ValueError:
            return None
    else:
        m = metric
    return m if getattr(m, "input", "samples") in kinds else None


def _labelled_measure(metric: Any) -> Any:
    """The measure if ``metric`` needs labelled trajectories (condition folds: ridge predictivity,
    ``input == "conditions"``; single trials: the stochastic and bias-corrected metrics, ``input ==
    "trials"``), else None. Flattened (samples, features) matrices carry neither, so such metrics
    are scored pair by pair through :func:`neurosim.compare`."""
    return _measure_of_input(metric, (CONDITION_INPUT, TRIAL_INPUT))


def _pairwise_labelled(collection: Any, metric: Any, progress: bool, options: dict) -> xr.DataArray:
    """Every ordered pair (or unordered, for a symmetric measure) scored by :func:`neurosim.compare`."""
    m = _labelled_measure(metric)
    kind = m.input
    if isinstance(collection, Mapping):
        items = [(str(k), v) for k, v in collection.items()]
    elif isinstance(collection, Sequence) and not isinstance(collection, (str, bytes)):
        items = [(str(getattr(v, "name", None) or i), v) for i, v in enumerate(collection)]
    else:
        raise TypeError(f"for a metric with {kind!r} input collection must be a dict name -> labelled "
                        f"(condition, time, unit[, trial]) DataArray; got {type(collection).__name__}")
    names = [n for n, _ in items]
    if len(items) < 2 or len(set(names)) != len(names):
        raise ValueError(f"pairwise needs at least 2 networks with unique names; got {names}")
    for n, v in items:
        if not isinstance(v, xr.DataArray):
            raise TypeError(f"collection[{n!r}] is a {type(v).__name__}; a metric with {kind!r} input needs "
                            "labelled trajectories (neurosim.trajectories(array, dims=...)), since its folds / "
                            "trials follow the condition and trial labels")
        if kind == TRIAL_INPUT and "trial" not in v.dims:
            raise ValueError(f"collection[{n!r}] has dims {tuple(v.dims)}; metric {m.name!r} compares single "
                             "trials and needs a 'trial' dim")
    symmetric = bool(getattr(m, "symmetric", True))
    K = len(names)
    # a symmetric measure is exact on identical inputs (0, or 1 for a similarity); an asymmetric one
    # (ridge: shrinkage and held-out folds keep a network's prediction of itself below 1) is computed
    # on the diagonal too
    pairs = ([(i, j) for i in range(K) for j in range(i + 1, K)] if symmetric
             else [(i, j) for i in range(K) for j in range(K)])
    D = np.zeros((K, K)) if getattr(m, "direction", "distance") == "distance" else np.ones((K, K))
    with tqdm(total=len(pairs), disable=not progress, desc="pairwise", unit="pair") as bar:
        for i, j in pairs:
            # rows are the model side (X), columns the data side (Y), as for the other metrics
            D[i, j] = compare(items[i][1], items[j][1], metric=m, progress=False, **options).value
            if symmetric:
                D[j, i] = D[i, j]
            bar.update()
    direction = getattr(m, "direction", "distance")
    return xr.DataArray(D, dims=("network", "network_b"), coords={"network": names, "network_b": names},
                        name=direction, attrs={"metric": str(getattr(m, "name", metric)), "input": kind,
                                               "direction": direction, "symmetric": int(symmetric)})


def _trajectory_measure(metric: Any) -> Any:
    """The measure / callable if ``metric`` needs (trajectories, time, units) input, else None."""
    return _measure_of_input(metric, (TRAJECTORY_INPUT,))


def _trajectory_collection(collection: Any) -> tuple[list[str], list[Any]]:
    if isinstance(collection, Mapping):
        items = [(str(k), v) for k, v in collection.items()]
    elif isinstance(collection, np.ndarray) and collection.ndim == 4:
        items = [(str(i), collection[i]) for i in range(collection.shape[0])]
    elif isinstance(collection, Sequence) and not isinstance(collection, (str, bytes, np.ndarray)):
        items = [(str(getattr(v, "name", None) or i) if isinstance(v, xr.DataArray) else str(i), v)
                 for i, v in enumerate(collection)]
    else:
        raise TypeError(
            "for a trajectory metric (DSA) collection must be a dict name -> (condition, time, unit) "
            "array/DataArray, a list of them, or a 4-D (network, condition, time, unit) array; "
            f"got {type(collection).__name__}"
        )
    names = [n for n, _ in items]
    if len(items) < 2 or len(set(names)) != len(names):
        raise ValueError(f"pairwise needs at least 2 networks with unique names; got {names}")
    out = []
    for n, v in items:
        if isinstance(v, xr.DataArray):
            if not {"condition", "time", "unit"} <= set(v.dims):
                raise ValueError(f"collection[{n!r}] has dims {tuple(v.dims)}; a trajectory metric needs "
                                 "('condition', 'time', 'unit')")
            v = (v.mean("trial") if "trial" in v.dims else v).transpose("condition", "time", "unit").values
        out.append(v)
    return names, out


def _pairwise_trajectories(collection: Any, metric: Any, progress: bool, options: dict) -> xr.DataArray:
    names, trajs = _trajectory_collection(collection)
    m = _trajectory_measure(metric)
    fixed = dict(getattr(m, "options", {}) or {})
    clash = sorted(set(options) & set(fixed))
    if clash:
        raise TypeError(f"metric {metric!r} fixes {clash} already; use a different id instead")
    user_options, options = options, {**fixed, **options}
    K = len(names)
    D = np.zeros((K, K))
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    is_dsa = getattr(m, "func", m) is dsa_distance

    with tqdm(total=len(pairs), disable=not progress, desc="pairwise", unit="pair") as bar:
        if is_dsa:
            fit_opts = {k: options.pop(k) for k in _DSA_FIT_OPTIONS if k in options}
            fits = [dsa_prepare(X, name=f"collection[{n!r}]", **fit_opts) for n, X in zip(names, trajs)]
            for i, j in pairs:
                D[i, j] = D[j, i] = dsa_compare(fits[i], fits[j], **options)
                bar.update()
        else:
            for i, j in pairs:
                D[i, j] = D[j, i] = check_metric_value(m(trajs[i], trajs[j], **user_options),
                                                       str(getattr(m, "__name__", metric)))
                bar.update()
    return xr.DataArray(D, dims=("network", "network_b"), coords={"network": names, "network_b": names},
                        name="distance", attrs={"metric": str(getattr(metric, "__name__", metric)),
                                                "input": TRAJECTORY_INPUT,
                                                "direction": "distance: 0 = same dynamics"})


# ---------------------------------------------------------------------------
# the public function
# ---------------------------------------------------------------------------
def pairwise(
    collection: Any,
    metric: str | Callable = "procrustes",
    *,
    alpha: float | None = None,
    kind: str | None = None,
    client: Any = None,
    progress: bool = False,
    block_size: int | None = None,
    **metric_options: Any,
) -> xr.DataArray:
    """Distance between every pair of networks, as a labelled K×K matrix.

    Parameters
    ----------
    collection : dict name -> array/DataArray, list, or 3-D array (network, samples, features)
        Each network's activity: a ``(samples, features)`` array or a
        ``(condition, time, unit)`` trajectory DataArray (flattened with
        :func:`neurosim.trajectories.flatten`; trials are averaged). All networks
        must share the same samples (labelled DataArrays must have identical
        condition and time coordinates); unit counts may differ.
    metric : str or callable
        ``"procrustes"`` (alpha=1), ``"cca"`` (alpha=0), ``"shape"`` (give
        ``alpha``), ``"procrustes-distance=angular|euclidean"`` — these use the
        cached per-network preprocessing — or any id of :func:`neurosim.make`, or
        a callable ``f(X, Y) -> float`` (one call per pair, no caching).
        Trajectory metrics (``"dsa"``, ``"dsa-score=angular|wasserstein"``, a callable
        with ``.input == "trajectories"``) take ``(condition, time, unit)`` arrays or
        DataArrays (trials averaged), not flattened; DSA fits each network once, its
        options (``n_delays``, ``rank``, ``score``, ``seed``, …) pass through.
    alpha : float, optional
        Regularization for ``metric="shape"`` (0 = CCA, 1 = Procrustes).
    kind : {"angular", "euclidean"}, optional
        Shape-metric distance kind (default ``"angular"``).  ``alpha`` and ``kind`` are
        refused (``TypeError``) by metrics that do not take them, e.g. ``"cka"``.
    client : dask.distributed.Client, optional
        Run preprocessing and pair blocks on this cluster. Default: locally.
    progress : bool
        Show a tqdm progress bar over pairs.
    block_size : int, optional
        Pairs per task (default: about 4 tasks per worker thread on a cluster).
    **metric_options
        ``center=False`` and ``normalize=True`` (angle / (pi/2), in [0, 1]) for
        shape metrics; anything else goes to the ``neurosim.make`` measure, which
        refuses options it does not take (the message lists those it takes).

    Returns
    -------
    xarray.DataArray
        dims ``("network", "network_b")``, both labelled with the names:
        ``D[i, j] = metric(collection[i], collection[j])``.  For symmetric measures
        (the registry knows which: every shape metric, CKA, CCA scores, RSA) one
        triangle is computed and mirrored; for asymmetric ones (``"pwcca-score"``) and
        for callables (unless ``f.symmetric = True``) both triangles are computed.
        For the shape metrics the diagonal is exactly 0 (a distance of a network
        to itself); for other metrics it is computed.
        ``attrs`` record the metric, alpha and kind.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics.shape import procrustes_distance
    >>> rng = np.random.default_rng(0)
    >>> nets = {f"net{i}": rng.normal(size=(40, 5)) for i in range(3)}
    >>> D = pairwise(nets, metric="procrustes")
    >>> D.dims, D.shape
    (('network', 'network_b'), (3, 3))
    >>> bool(np.isclose(D.sel(network="net0", network_b="net2"),
    ...                 procrustes_distance(nets["net0"], nets["net2"])))
    True
    """

    progress = check_flag(progress, "progress")
    block_size = check_count(block_size, "block_size", allow_none=True)
    if _trajectory_measure(metric) is not None:
        if client is not None or alpha is not None or kind is not None:
            raise ValueError("trajectory metrics (DSA) run locally and take no alpha or kind; "
                             "drop client=/alpha=/kind=")
        return _pairwise_trajectories(collection, metric, progress, dict(metric_options))
    if _labelled_measure(metric) is not None:
        if client is not None or alpha is not None or kind is not None:
            raise ValueError("metrics with condition-fold or single-trial input run locally through "
                             "neurosim.compare and take no alpha or kind; drop client=/alpha=/kind=")
        return _pairwise_labelled(collection, metric, progress, dict(metric_options))
    names, mats = _as_collection(collection)
    mode, spec, symmetric = _resolve_metric(metric, alpha, kind, dict(metric_options))
    K = len(names)
    if mode == "shape":
        _check_cache_memory(mats, spec[0])
    diag = mode == "shape"
    if symmetric:
        pairs = [(i, j) for i in range(K) for j in range(i if not diag else i + 1, K)]
    else:
        pairs = [(i, j) for i in range(K) for j in range(K)]
    D = np.zeros((K, K))

    def store(i: int, j: int, d: float) -> None:
        D[i, j] = d
        if symmetric:
            D[j, i] = d


    bar = tqdm(total=len(pairs), disable=not progress, desc="pairwise", unit="pair")
    try:
        if client is None:
            if mode == "shape":
                a, k, center, norm = spec
                prepared = {i: _prepare_task(m, a, center, None) for i, m in enumerate(mats)}
                for i, j in pairs:
                    store(i, j, _pairs_task([(i, j)], prepared, k, norm, None)[0])
                    bar.update()
            else:
                for i, j in pairs:
                    store(i, j, spec(mats[i], mats[j]))
                    bar.update()
        else:
            from dask.distributed import as_completed  # optional dependency

            threads = _worker_threads(client)
            n_threads = max(1, sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values()))
            blocks = (
                [pairs[i : i + block_size] for i in range(0, len(pairs), block_size)]
                if block_size
                else _blocks(pairs, 4 * n_threads)
            )
            if mode == "shape":
                a, k, center, norm = spec
                prep = [client.submit(_prepare_task, m, a, center, threads, pure=False) for m in mats]
                futures = {}
                for block in blocks:
                    needed = sorted({i for p in block for i in p})
                    fut = client.submit(_pairs_task, block, {i: prep[i] for i in needed}, k, norm, threads,
                                        pure=False)
                    futures[fut] = block
            else:
                scattered = client.scatter(list(mats))
                futures = {}
                for block in blocks:
                    needed = sorted({i for p in block for i in p})
                    fut = client.submit(_generic_task, block, {i: scattered[i] for i in needed}, spec, threads,
                                        pure=False)
                    futures[fut] = block
            for fut in as_completed(list(futures)):
                block = futures[fut]
                for (i, j), d in zip(block, fut.result()):
                    store(i, j, d)
                bar.update(len(block))
    finally:
        bar.close()

    if mode == "shape":
        a, k, _, norm = spec
        attrs = {"metric": str(metric), "alpha": a, "kind": k, "normalize": int(norm),
                 "direction": "distance: 0 = identical up to the metric's invariances"}
    else:
        attrs = {"metric": str(getattr(metric, "__name__", metric)), "symmetric": int(symmetric)}
    return xr.DataArray(
        D,
        dims=("network", "network_b"),
        coords={"network": names, "network_b": names},
        name="distance" if mode == "shape" else "value",
        attrs=attrs,
    )
