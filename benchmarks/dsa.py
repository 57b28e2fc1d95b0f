"""Benchmark: Dynamical Similarity Analysis, per-system fit vs per-pair comparison.

K systems of 8 trajectories × 121 steps × 50 units (noise-driven linear dynamics seen through
a random linear read-out, about the size of condition-averaged M1 data).  It measures the
median cost of one fit (``dsa_prepare``: delay embedding, partial SVD, DMD) and of one
comparison (``dsa_compare``: angular Procrustes over O(r), or Wasserstein on spectra), then
times the K×K matrix computed as K fits + K(K-1)/2 comparisons and shows that it costs what
those counts predict, against the naive K(K-1)/2 × (2 fits + 1 comparison).

Run (from the repository root):
    PYTHONPATH=. python benchmarks/dsa.py [--k 8] [--trajectories 8] [--time 121] [--units 50]
        [--n-delays 10] [--rank 10] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from neurosim.metrics.dynamics import dsa_compare, dsa_distance, dsa_prepare
from _timing import timed  # noqa: E402 (benchmarks/ is the script's folder)


def make_systems(k, n_traj, T, n_units, seed=0):
    rng = np.random.default_rng(seed)
    systems = []
    for _ in range(k):
        n_latent = 6
        A = rng.normal(size=(n_latent, n_latent))
        A *= 0.97 / np.max(np.abs(np.linalg.eigvals(A)))
        x = np.zeros((n_traj, T, n_latent))
        x[:, 0] = rng.normal(size=(n_traj, n_latent))
        for t in range(1, T):
            x[:, t] = x[:, t - 1] @ A.T + 0.1 * rng.normal(size=(n_traj, n_latent))
        readout = rng.normal(size=(n_latent, n_units))
        systems.append(x @ readout + 0.05 * rng.normal(size=(n_traj, T, n_units)))
    return systems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--trajectories", type=int, default=8)
    ap.add_argument("--time", type=int, default=121)
    ap.add_argument("--units", type=int, default=50)
    ap.add_argument("--n-delays", type=int, default=10)
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (0 = library default)")
    args = ap.parse_args()
    opts = dict(n_delays=args.n_delays, rank=args.rank)
    systems = make_systems(args.k, args.trajectories, args.time, args.units)
    K = len(systems)
    n_pairs = K * (K - 1) // 2
    limit = threadpool_limits(limits=args.threads, user_api="blas") if args.threads > 0 else nullcontext()
    with limit:
        blas = [f"{i['internal_api']} {i.get('version', '')} ({i['num_threads']} threads)"
                for i in threadpool_info() if i["user_api"] == "blas"]
        print(f"BLAS: {', '.join(blas)}  (DSA itself pins its fit and search to one thread)")
        print(f"K={K} systems of {args.trajectories}×{args.time}×{args.units}, n_delays={args.n_delays}, "
              f"rank={args.rank}, {args.repeats} repeats, medians")
        fits, t_fit = timed(lambda: [dsa_prepare(X, **opts) for X in systems], args.repeats)
        t_fit /= K
        print(f"  per-system fit (dsa_prepare):            {1e3 * t_fit:8.1f} ms")
        pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
        for score in ("angular", "wasserstein"):
            _, t_pair = timed(lambda: [dsa_compare(fits[i], fits[j], score=score) for i, j in pairs],
                              args.repeats)
            t_pair /= n_pairs
            print(f"  per-pair comparison ({score:11s}):       {1e3 * t_pair:8.2f} ms")

            def matrix(score=score):
                fs = [dsa_prepare(X, **opts) for X in systems]
                D = np.zeros((K, K))
                for i, j in pairs:
                    D[i, j] = D[j, i] = dsa_compare(fs[i], fs[j], score=score)
                return D

            D, t_matrix = timed(matrix, args.repeats)
            predicted = K * t_fit + n_pairs * t_pair
            print(f"  {K}×{K} matrix ({score}): {t_matrix:6.2f} s measured = K fits + K(K-1)/2 pairs "
                  f"= {K}×{1e3 * t_fit:.1f} ms + {n_pairs}×{1e3 * t_pair:.2f} ms = {predicted:.2f} s predicted "
                  f"(ratio {t_matrix / predicted:.2f})")
            def naive(score=score):
                return [dsa_distance(systems[i], systems[j], score=score, **opts) for i, j in pairs]

            _, t_naive = timed(naive, 1)
            print(f"    naive, every pair fits both systems again: {t_naive:.2f} s once "
                  f"({t_naive / t_matrix:.1f}× the split)")
            off = D[np.triu_indices(K, 1)]
            print(f"    off-diagonal distances: median {np.median(off):.4f}, range {off.min():.4f}–{off.max():.4f}")


if __name__ == "__main__":
    main()
