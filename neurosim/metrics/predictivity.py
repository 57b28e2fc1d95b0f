r"""Neural predictivity: how well a model's units linearly predict each recorded neuron.

For every recorded unit ``j`` a ridge regression from the model's units is fitted on some
conditions and predicts the held-out ones (folds by **condition**, so the time bins of a
held-out condition are never seen in training):

.. math::

    \hat w_j = \arg\min_w \lVert \tilde y_j - \tilde X w \rVert^2 + \alpha_j \lVert w \rVert^2,
    \qquad \hat y_j = \tilde X_{\text{test}} \hat w_j + \bar y_j

(``~``: centred on the training conditions; the intercept is not penalised). Each
``α_j`` is chosen by an inner cross-validation over the training conditions, on a log
grid, by the mean over inner folds of the held-out mean squared error. The
cross-validated predictions of all conditions are then scored per unit — the Pearson
correlation with the recorded responses over all ``(condition, time)`` samples (or
``R² = 1 − SS_res / SS_tot``) — and the score is the **median over recorded units**.
Higher is better (a similarity): 1 = every unit predicted perfectly.

The per-unit value equals a loop over units of scikit-learn's
``RidgeCV(alphas, cv=<inner condition folds>, scoring="neg_mean_squared_error")`` fitted
on each outer training fold; here the inner search costs one SVD per inner fold for all
units and all α, and the outer fits are one multi-target :class:`sklearn.linear_model.Ridge`
with a per-unit ``alpha``.

The trial-to-trial noise of the recordings caps the score below 1; see
:func:`neurosim.baselines.split_half_reliability` and :func:`neurosim.baselines.ceiled_score`.
"""

from __future__ import annotations

import numpy as np

from neurosim.metrics._validate import check_choice, check_count, check_finite, check_flag
from neurosim.metrics.blocks import condition_folds  # the folds compare(..., cv=k) uses too

__all__ = ["ridge_predictivity", "condition_folds", "CONDITION_INPUT", "DEFAULT_ALPHAS"]

#: ``Measure.input`` of a metric on ``(conditions, time, units)`` arrays whose conditions are
#: exchangeable units of cross-validation (folds, bootstrap and permutations by condition).
CONDITION_INPUT = "conditions"

#: The default relative α grid: ``10^-4 … 10^4`` (17 values), multiplied by the mean
#: eigenvalue ``‖X̃‖_F² / p`` of the model's centred (samples × p) matrix.
DEFAULT_ALPHAS = np.logspace(-4, 4, 17)


def _as_blocks(A, name: str) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 2:
        A = A[:, None, :]
    if A.ndim != 3:
        raise ValueError(
            f"{name} must be (conditions, time, units) or (conditions, units); got shape {A.shape}. "
            "Through neurosim.compare(metric='ridge') the arrays are passed in this layout."
        )
    check_finite(A, name)
    return A


def _check_folds(value, name: str):
    if isinstance(value, str):
        if value != "loo":
            raise ValueError(f"{name} must be an int >= 2 or 'loo'; got {value!r}.")
        return value
    return check_count(value, name, minimum=2)


def _inner_alphas(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, alphas: np.ndarray, inner) -> np.ndarray:
    """Per-unit α minimising the mean over inner condition folds of the held-out MSE."""
    labels = np.unique(groups)
    folds = condition_folds(labels.size, min(inner, labels.size) if inner != "loo" else "loo")
    mse = np.zeros((alphas.size, Y.shape[1]))
    for train_g, test_g in folds:
        tr = np.isin(groups, labels[train_g])
        te = ~tr
        mx, my = X[tr].mean(axis=0), Y[tr].mean(axis=0)
        U, s, Vt = np.linalg.svd(X[tr] - mx, full_matrices=False)
        UtY = U.T @ (Y[tr] - my)
        XV = (X[te] - mx) @ Vt.T
        R = Y[te] - my
        for a, alpha in enumerate(alphas):
            pred = (XV * (s / (s * s + alpha))) @ UtY
            mse[a] += ((R - pred) ** 2).mean(axis=0)
    return alphas[np.argmin(mse / len(folds), axis=0)]


def ridge_predictivity(
    X,
    Y,
    *,
    folds: int | str = 5,
    inner_folds: int | str = 5,
    alphas=None,
    score: str = "pearson",
    per_unit: bool = False,
):
    """Cross-validated ridge predictivity of recorded units ``Y`` from model units ``X``.

    Parameters
    ----------
    X, Y : ndarray (conditions, time, units) or (conditions, units)
        Model and recorded activity over the same conditions and time bins (unit counts may
        differ). Conditions are the units of cross-validation. Conditions whose recorded
        responses are identical copies (a bootstrap resample over conditions) are kept in
        the same fold.
    folds : int or "loo"
        Outer folds over conditions (contiguous, ``KFold`` order); default 5.
    inner_folds : int or "loo"
        Inner folds over the training conditions for choosing α (capped at the number of
        training conditions); default 5.
    alphas : array_like of float > 0, optional
        The α grid, used as given. Default :data:`DEFAULT_ALPHAS` × ``‖X̃‖_F² / p`` (``X̃``
        the centred ``(samples, p)`` model matrix), which makes the score invariant to
        rescaling the model.
    score : {"pearson", "r2"}
        Per-unit score of the cross-validated predictions over all samples.
    per_unit : bool
        Return the per-unit scores (array of length ``Y``'s units) instead of their median.

    Returns
    -------
    float or ndarray
        Median over recorded units of the per-unit score (unitless; Pearson in [-1, 1],
        R² at most 1). Similarity: higher is better. A constant prediction has Pearson 0.

    Raises
    ------
    ValueError
        Fewer than 3 distinct conditions, a recorded unit with no variance, a non-positive α,
        mismatched shapes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 10, 6))                      # model: 12 conditions, 10 bins
    >>> Y = X @ rng.normal(size=(6, 4)) + 0.5 * rng.normal(size=(12, 10, 4))
    >>> round(ridge_predictivity(X, Y), 3)
    0.982
    >>> bool(ridge_predictivity(rng.normal(size=(12, 10, 6)), Y) < 0.1)   # an unrelated model
    True
    """
    # scikit-learn is imported here, not at module level: importing it costs ~0.3 s and
    # neurosim.metrics must stay quick to import for users who never fit a regression
    from sklearn.linear_model import Ridge

    X = _as_blocks(X, "X")
    Y = _as_blocks(Y, "Y")
    if X.shape[:2] != Y.shape[:2]:
        raise ValueError(
            f"X and Y must have the same conditions and time bins; got X {X.shape[:2]} and Y {Y.shape[:2]} "
            "(conditions, time)."
        )
    folds = _check_folds(folds, "folds")
    inner_folds = _check_folds(inner_folds, "inner_folds")
    score = check_choice(score, ("pearson", "r2"), "score")
    per_unit = check_flag(per_unit, "per_unit")
    C, T, p = X.shape
    q = Y.shape[2]
    # identical recorded conditions (bootstrap copies) form one group, so a copy is never
    # used to predict itself
    _, first, inverse = np.unique(Y.reshape(C, -1), axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=int)
    rank[np.argsort(first)] = np.arange(first.size)  # groups numbered in order of first appearance
    cond_group = rank[np.asarray(inverse).ravel()]
    n_groups = int(cond_group.max()) + 1
    if n_groups < 3:
        raise ValueError(
            f"ridge predictivity needs at least 3 distinct conditions (outer folds, and an inner split of "
            f"the training conditions for α); got {n_groups}."
        )
    Xs = X.reshape(C * T, p)
    Ys = Y.reshape(C * T, q)
    groups = np.repeat(cond_group, T)
    sd = Ys.std(axis=0)
    if (sd == 0).any():
        raise ValueError(f"Y: recorded units {np.flatnonzero(sd == 0)[:10].tolist()} are constant over all "
                         "(condition, time) samples; nothing to predict. Drop them.")
    if alphas is None:
        scale = float(((Xs - Xs.mean(axis=0)) ** 2).sum()) / p
        alphas = DEFAULT_ALPHAS * (scale if scale > 0 else 1.0)
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if alphas.ndim != 1 or not np.all(np.isfinite(alphas)) or not np.all(alphas > 0):
        raise ValueError(f"alphas must be a 1-d grid of finite values > 0; got {alphas!r}.")
    if folds != "loo" and folds > n_groups:
        raise ValueError(f"folds={folds} but there are only {n_groups} distinct conditions; use fewer folds or 'loo'.")
    pred = np.empty_like(Ys)
    for train_g, test_g in condition_folds(n_groups, folds):
        tr = np.isin(groups, train_g)
        te = ~tr
        if np.unique(groups[tr]).size < 2:
            raise ValueError("an outer training fold has fewer than 2 conditions; use fewer folds.")
        a = _inner_alphas(Xs[tr], Ys[tr], groups[tr], alphas, inner_folds)
        model = Ridge(alpha=a, fit_intercept=True).fit(Xs[tr], Ys[tr])
        pred[te] = model.predict(Xs[te])
    if score == "r2":
        values = 1.0 - ((Ys - pred) ** 2).sum(axis=0) / ((Ys - Ys.mean(axis=0)) ** 2).sum(axis=0)
    else:
        P = pred - pred.mean(axis=0)
        R = Ys - Ys.mean(axis=0)
        den = np.sqrt((P * P).sum(axis=0) * (R * R).sum(axis=0))
        values = np.divide((P * R).sum(axis=0), den, out=np.zeros(q), where=den > 0)
    return values if per_unit else float(np.median(values))


ridge_predictivity.direction = "similarity"
ridge_predictivity.input = CONDITION_INPUT
