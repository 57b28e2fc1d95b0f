"""Benchmark: trial-level tools against the naive loops a user would write.

On simulated single trials (``neurosim.datasets.simulate_trials``; defaults: 8 conditions ×
20 trials × 40 time bins × 60 units; model = the true means read out by 40 random units):

* ridge predictivity (``ridge_predictivity``: one SVD per inner fold for every unit and α, one
  multi-target Ridge per outer fold) vs a loop of scikit-learn ``RidgeCV`` per recorded unit
  with the same condition folds — same value to 1e-10;
* the trial-split ceiling (``trial_split_ceiling``: halves drawn on the numpy array) vs a loop
  that builds each split with xarray and calls ``neurosim.compare`` on the two halves;
* per-unit split-half reliability (``split_half_reliability``: all units at once) vs a loop of
  ``numpy.corrcoef`` per unit.

Run (from the repository root):
    PYTHONPATH=. python benchmarks/trials.py [--conditions 8] [--trials 20] [--time 40]
        [--units 60] [--splits 50] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_info, threadpool_limits

import neurosim
from neurosim.baselines import spearman_brown, split_half_reliability, trial_split_ceiling
from neurosim.datasets import simulate_trials
from neurosim.metrics import ridge_predictivity
from neurosim.metrics.predictivity import DEFAULT_ALPHAS
from neurosim.trajectories import trial_mean
from _timing import timed  # noqa: E402 (benchmarks/ is the script's folder)


def naive_ridge(X, Y, alphas, folds=5, inner=5):
    C, T, p = X.shape
    q = Y.shape[2]
    pred = np.empty((C, T, q))
    for train_c, test_c in KFold(folds).split(np.arange(C)):
        Xtr, Ytr = X[train_c].reshape(-1, p), Y[train_c].reshape(-1, q)
        cv = [(np.concatenate([np.arange(c * T, (c + 1) * T) for c in tr]),
               np.concatenate([np.arange(c * T, (c + 1) * T) for c in te]))
              for tr, te in KFold(min(inner, len(train_c))).split(np.arange(len(train_c)))]
        for j in range(q):
            m = RidgeCV(alphas=alphas, cv=cv, scoring="neg_mean_squared_error").fit(Xtr, Ytr[:, j])
            pred[test_c, :, j] = m.predict(X[test_c].reshape(-1, p)).reshape(len(test_c), T)
    P, R = pred.reshape(-1, q), Y.reshape(-1, q)
    return float(np.median([np.corrcoef(P[:, j], R[:, j])[0, 1] for j in range(q)]))


def naive_ceiling(rates, n_splits, seed):
    rng = np.random.default_rng(seed)
    K = rates.sizes["trial"]
    sims = []
    for _ in range(n_splits):
        halves = [[], []]
        for c in range(rates.sizes["condition"]):
            perm = rng.permutation(K)
            halves[0].append(rates.isel(condition=[c], trial=perm[: K // 2]).mean("trial"))
            halves[1].append(rates.isel(condition=[c], trial=perm[K // 2: 2 * (K // 2)]).mean("trial"))
        A = neurosim.trajectories(np.concatenate([h.values for h in halves[0]]), time=rates.time.values)
        B = neurosim.trajectories(np.concatenate([h.values for h in halves[1]]), time=rates.time.values)
        sims.append(np.cos(neurosim.compare(A, B, "procrustes", progress=False).value))
    return float(np.arccos(np.mean(spearman_brown(np.array(sims), 2.0))))


def naive_reliability(rates, n_splits, seed):
    rng = np.random.default_rng(seed)
    v = rates.values  # (condition, time, unit, trial)
    C, T, N, K = v.shape
    acc = np.zeros(N)
    for _ in range(n_splits):
        A = np.empty((C, T, N))
        B = np.empty((C, T, N))
        for c in range(C):
            perm = rng.permutation(K)
            A[c] = v[c][..., perm[: K // 2]].mean(-1)
            B[c] = v[c][..., perm[K // 2: 2 * (K // 2)]].mean(-1)
        for u in range(N):
            r = np.corrcoef(A[..., u].ravel(), B[..., u].ravel())[0, 1]
            acc[u] += 2 * r / (1 + r)
    return acc / n_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=8)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--time", type=int, default=40)
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--splits", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (0 = library default)")
    args = ap.parse_args()
    sim = simulate_trials(args.conditions, args.trials, args.time, args.units, noise=1.5, seed=0)
    rates = sim["rates"]
    rng = np.random.default_rng(1)
    X = sim["means"].values @ rng.normal(size=(args.units, 40)) + 0.5 * rng.normal(size=(args.conditions, args.time, 40))
    Y = trial_mean(rates).values
    Xs = X.reshape(-1, 40)
    alphas = DEFAULT_ALPHAS * float(((Xs - Xs.mean(0)) ** 2).sum()) / 40
    limit = threadpool_limits(limits=args.threads, user_api="blas") if args.threads > 0 else nullcontext()
    with limit:
        blas = [f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info() if i["user_api"] == "blas"]
        print(f"BLAS: {', '.join(blas)}")
        print(f"data: {args.conditions} conditions × {args.trials} trials × {args.time} bins × {args.units} units; "
              f"model 40 units; {args.repeats} repeats, medians")
        fast, t_fast = timed(lambda: ridge_predictivity(X, Y, folds=5), args.repeats)
        slow, t_slow = timed(lambda: naive_ridge(X, Y, alphas), 1)
        print(f"  ridge predictivity (5 outer × 5 inner folds, {alphas.size} α, {args.units} units)")
        print(f"    neurosim {1e3 * t_fast:8.1f} ms   RidgeCV loop {1e3 * t_slow:8.1f} ms   "
              f"ratio {t_slow / t_fast:6.1f}×   |Δ| = {abs(fast - slow):.1e}")
        fast, t_fast = timed(lambda: trial_split_ceiling(rates, "procrustes", args.splits, 0, progress=False).value,
                             args.repeats)
        slow, t_slow = timed(lambda: naive_ceiling(rates, args.splits, 0), 1)
        print(f"  trial-split ceiling (procrustes, {args.splits} splits)")
        print(f"    neurosim {1e3 * t_fast:8.1f} ms   xarray + compare loop {1e3 * t_slow:8.1f} ms   "
              f"ratio {t_slow / t_fast:6.1f}×   |Δ| = {abs(fast - slow):.1e}")
        fast, t_fast = timed(lambda: split_half_reliability(rates, args.splits, 0).values, args.repeats)
        slow, t_slow = timed(lambda: naive_reliability(rates, args.splits, 0), 1)
        print(f"  split-half reliability per unit ({args.splits} splits)")
        print(f"    neurosim {1e3 * t_fast:8.1f} ms   corrcoef loop {1e3 * t_slow:8.1f} ms   "
              f"ratio {t_slow / t_fast:6.1f}×   max|Δ| = {np.abs(fast - slow).max():.1e}")


if __name__ == "__main__":
    main()
