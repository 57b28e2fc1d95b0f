"""Single-trial recordings with known ground truth: condition means, noise covariance, reliability.

:func:`simulate_trials` draws ``(condition, time, unit, trial)`` activity as

    x[c, t, :, k] = μ[c, t, :] + ε[c, t, k],   ε ~ N(0, Σ) independent over trials and time bins,

with smooth condition means ``μ`` (a few latent rotations read out by random unit
weights, like reaching-direction tuning in motor cortex) and a noise covariance ``Σ``
with a shared (low-rank) and a private part. Because ``μ``, ``Σ`` and the trial counts
are known, so is the reliability of every unit — what the trial-split ceilings
estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurosim.metrics._validate import check_count, check_seed
from neurosim.trajectories import trajectories

__all__ = ["simulate_trials"]


def _positive(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number >= 0; got {value!r}.")
    out = float(value)
    if not (np.isfinite(out) and out >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
    return out


def simulate_trials(
    n_conditions: int = 8,
    n_trials: int | Sequence[int] = 20,
    n_time: int = 20,
    n_units: int = 30,
    *,
    n_latents: int = 4,
    noise: float = 1.0,
    shared_noise: float = 0.3,
    dt: float = 10.0,
    seed: int | None = 0,
) -> xr.Dataset:
    """Simulated single-trial activity with known condition means and noise.

    Parameters
    ----------
    n_conditions, n_time, n_units : int
        Sizes (conditions ``c`` are reach-like directions ``360° · c / C``).
    n_trials : int or sequence of int
        Trials per condition: one count for all, or one per condition (ragged; the
        ``trial`` dim is as long as the largest count and missing trials are NaN padding,
        the convention of :mod:`neurosim.trajectories`). At least 1 each.
    n_latents : int
        Dimension of the condition-mean trajectories (the signal); ``μ = Z W + b`` with
        latent rotations ``Z`` (condition, time, latent) of unit variance, unit weights
        ``W ~ N(0, 1/n_latents)`` and baselines ``b ~ N(0, 1)``, so every unit's signal
        variance over (condition, time) is about 1.
    noise : float
        Standard deviation of the single-trial noise of every unit (``Σ_ii = noise²``).
    shared_noise : float in [0, 1]
        Fraction of the noise variance shared across units through 2 noise factors
        (``Σ = noise² ((1 − s) I + s F Fᵀ)`` with the rows of ``F`` unit-norm).
    dt : float
        Time bin in ms.
    seed : int or None
        Seed of everything (means, covariance, noise).

    Returns
    -------
    xarray.Dataset
        * ``rates`` (condition, time, unit, trial): the single trials, NaN-padded when
          ragged (so the Dataset goes straight into :func:`neurosim.compare` as data);
        * ``means`` (condition, time, unit): the true condition means ``μ`` — a perfect model;
        * ``noise_cov`` (unit, unit_b): ``Σ``;
        * ``n_trials`` (condition): trials per condition;
        * ``reliability`` (unit): the reliability of each unit's trial average over the
          (condition, time) samples, ``ρ_u = v_u / (v_u + Σ_uu · mean_c(1/n_c))`` with
          ``v_u`` the variance of ``μ[:, :, u]`` over (condition, time) (population
          variance). It is the squared correlation between ``μ`` and the trial average
          (in expectation, for many samples), and the value a Spearman–Brown-corrected
          split-half correlation estimates.

    Examples
    --------
    >>> sim = simulate_trials(n_conditions=4, n_trials=[5, 6, 6, 3], n_time=10, n_units=12)
    >>> sim["rates"].dims, sim["rates"].sizes["trial"], sim["n_trials"].values.tolist()
    (('condition', 'time', 'unit', 'trial'), 6, [5, 6, 6, 3])
    >>> 0 < float(sim["reliability"].min()) < float(sim["reliability"].max()) < 1
    True
    """
    C = check_count(n_conditions, "n_conditions")
    T = check_count(n_time, "n_time")
    N = check_count(n_units, "n_units")
    L = check_count(n_latents, "n_latents")
    seed = check_seed(seed, "seed")
    noise = _positive(noise, "noise")
    shared = _positive(shared_noise, "shared_noise")
    if shared > 1:
        raise ValueError(f"shared_noise is a fraction of the noise variance in [0, 1]; got {shared_noise!r}.")
    dt = _positive(dt, "dt")
    if dt == 0:
        raise ValueError("dt must be > 0 (ms per time bin).")
    if isinstance(n_trials, (int, np.integer)) and not isinstance(n_trials, (bool, np.bool_)):
        counts = np.full(C, check_count(n_trials, "n_trials"))
    else:
        if isinstance(n_trials, (str, bytes, bool, np.bool_)) or n_trials is None:
            raise TypeError(f"n_trials must be an int or a sequence of {C} ints; got {n_trials!r}.")
        counts = np.asarray([check_count(n, "n_trials") for n in n_trials])
        if counts.shape != (C,):
            raise ValueError(f"n_trials must give one count per condition ({C}); got {len(counts)}.")
    rng = np.random.default_rng(seed)
    # latent rotations: each latent a sinusoid of time whose phase is set by the direction
    theta = 2 * np.pi * np.arange(C) / C
    time = np.arange(T) * dt
    s = np.linspace(0, 1, T)
    freq = rng.uniform(0.5, 1.5, size=L)
    phase = rng.uniform(0, 2 * np.pi, size=L)
    Z = np.sqrt(2) * np.sin(2 * np.pi * freq[None, None, :] * s[None, :, None]
                            + theta[:, None, None] + phase[None, None, :])
    W = rng.normal(size=(L, N)) / np.sqrt(L)
    b = rng.normal(size=N)
    mu = Z @ W + b
    F = rng.normal(size=(N, 2))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    cov = noise**2 * ((1 - shared) * np.eye(N) + shared * F @ F.T)
    # Σ is singular only for shared_noise = 1 (rank 2) or noise = 0: factor it by its eigenvectors
    evals, evecs = np.linalg.eigh(cov)
    chol = evecs * np.sqrt(np.clip(evals, 0.0, None))
    K = int(counts.max())
    x = np.full((C, T, N, K), np.nan)
    for c in range(C):
        eps = rng.normal(size=(T, int(counts[c]), N)) @ chol.T  # (time, trial, unit)
        x[c, :, :, : counts[c]] = (mu[c][:, None, :] + eps).transpose(0, 2, 1)
    v = mu.reshape(C * T, N).var(axis=0)
    noise_of_mean = np.diag(cov) * np.mean(1.0 / counts)
    total = v + noise_of_mean
    rel = np.divide(v, total, out=np.ones(N), where=total > 0)  # no variance at all: perfectly reliable
    labels = (360.0 * np.arange(C) / C).tolist()
    rates = trajectories(x, dims=("condition", "time", "unit", "trial"), conditions=labels, time=time,
                         attrs={"source": "neurosim.datasets.simulate_trials", "seed": -1 if seed is None else int(seed)})
    rates = rates.assign_coords(trial=np.arange(K))
    means = trajectories(mu, conditions=labels, time=time)
    ds = xr.Dataset({
        "rates": rates,
        "means": means,
        "noise_cov": (("unit", "unit_b"), cov),
        "n_trials": (("condition",), counts),
        "reliability": (("unit",), rel),
    })
    ds.attrs = {"source": "neurosim.datasets.simulate_trials", "noise": noise, "shared_noise": shared,
                "n_latents": L}
    return ds
