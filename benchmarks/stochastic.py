"""Benchmark: stochastic shape metrics (Gaussian α, energy) against their naive loops.

Data: C conditions × r trials × n units, condition means and covariances random, Y a noisy
rotated copy of X.  For each metric it prints the median time of

* one iteration of the rotation search, vectorised (batched SVDs / one ``einsum`` over trial
  pairs, as in ``neurosim.metrics.stochastic``) against a naive loop (a Python loop over
  conditions with one SVD each, for the Gaussian metric; for the energy metric, every trial
  pair stacked once into a ``(C r², n)`` matrix, as netrep does, and each step computed on the
  stack), and their ratio;
* one full call of ``gaussian_shape_distance`` / ``energy_shape_distance`` (all starts), for
  scale.

Run (from the repository root):
    PYTHONPATH=. python benchmarks/stochastic.py [--conditions 50] [--trials 20] [--units 10]
        [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from neurosim.metrics.stochastic import (
    _EnergyProblem,
    _GaussianProblem,
    _psd_sqrt,
    _procrustes_rotation,
    energy_shape_distance,
    gaussian_shape_distance,
    trial_moments,
)
from _timing import median_seconds  # noqa: E402 (benchmarks/ is the script's folder)


def data(C, r, n, seed=0):
    rng = np.random.default_rng(seed)
    means = 2.0 * rng.normal(size=(C, 1, n))
    mix = rng.normal(size=(C, n, n)) / np.sqrt(n)
    X = means + rng.normal(size=(C, r, n)) @ mix
    Q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    Y = X @ Q + 0.3 * rng.normal(size=(C, r, n))
    return X, Y


def gaussian_naive_iteration(mx, my, Sx, Sy, T, a, b):
    """One alternation with a Python loop over conditions."""
    cross = a * (my.T @ mx)
    for c in range(mx.shape[0]):
        U, _, Vt = np.linalg.svd(Sy[c] @ T @ Sx[c])
        cross = cross + b * (Sy[c] @ U @ Vt @ Sx[c])
    return _procrustes_rotation(cross)


def gaussian_vector_iteration(prob, T):
    U, Vt, _ = prob.polar_step(T)
    return _procrustes_rotation(prob.a * prob.Cm + prob.b * np.sum(prob.Sy @ U @ Vt @ prob.Sx, axis=0))


def stack_pairs(X, Y):
    """netrep's layout: every trial pair of a condition stacked into (C r_x r_y, n) matrices (once per fit)."""
    idx = np.array(list(itertools.product(range(X.shape[1]), range(Y.shape[1]))))
    return np.vstack([x[idx[:, 0]] for x in X]), np.vstack([y[idx[:, 1]] for y in Y])


def energy_naive_iteration(Xs, Ys, T):
    """One IRLS step on the stacked pairs: residuals, weights, weighted Procrustes."""
    resid = np.linalg.norm(Xs - Ys @ T, axis=-1)
    w = 1.0 / np.maximum(resid, 1e-12)
    return _procrustes_rotation((w[:, None] * Ys).T @ Xs)


def energy_vector_iteration(prob, T):
    return prob.irls_step(prob.residuals(T))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=50)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    C, r, n = args.conditions, args.trials, args.units
    X, Y = data(C, r, n)
    blas = ", ".join(i["internal_api"] for i in threadpool_info() if i["user_api"] == "blas")
    print(f"C={C} conditions × r={r} trials × n={n} units; BLAS threads={args.threads} ({blas}); "
          f"median of {args.repeats}")
    with threadpool_limits(args.threads, user_api="blas"):
        (mx, cx), (my, cy) = trial_moments(X), trial_moments(Y)
        Sx, trx = _psd_sqrt(cx, "X")
        Sy, tr_y = _psd_sqrt(cy, "Y")
        prob = _GaussianProblem(mx, my, Sx, Sy, trx, tr_y, 1.0)
        T = np.eye(n)
        t_naive = median_seconds(lambda: gaussian_naive_iteration(mx, my, Sx, Sy, T, 1.0, 1.0), args.repeats)
        t_vec = median_seconds(lambda: gaussian_vector_iteration(prob, T), args.repeats)
        assert np.allclose(gaussian_naive_iteration(mx, my, Sx, Sy, T, 1.0, 1.0), gaussian_vector_iteration(prob, T))
        gaussian_shape_distance(X, Y)  # warm-up: scipy.optimize is imported on first use
        t_call = median_seconds(lambda: gaussian_shape_distance(X, Y), max(1, args.repeats // 2))
        print(f"gaussian_shape_distance: one iteration naive loop {1e3 * t_naive:8.2f} ms, vectorised "
              f"{1e3 * t_vec:8.2f} ms, ratio {t_naive / t_vec:5.1f}x; full call (all starts) {1e3 * t_call:8.1f} ms")

        eprob = _EnergyProblem(X, Y)
        Xs, Ys = stack_pairs(X, Y)
        t_naive = median_seconds(lambda: energy_naive_iteration(Xs, Ys, T), args.repeats)
        t_vec = median_seconds(lambda: energy_vector_iteration(eprob, T), args.repeats)
        assert np.allclose(energy_naive_iteration(Xs, Ys, T), energy_vector_iteration(eprob, T))
        t_call = median_seconds(lambda: energy_shape_distance(X, Y), max(1, args.repeats // 2))
        print(f"energy_shape_distance:   one iteration naive loop {1e3 * t_naive:8.2f} ms, vectorised "
              f"{1e3 * t_vec:8.2f} ms, ratio {t_naive / t_vec:5.1f}x; full call (all starts) {1e3 * t_call:8.1f} ms")


if __name__ == "__main__":
    main()
