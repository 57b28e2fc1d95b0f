"""Benchmark: neurosim.pairwise vs its floor (K preprocessing steps + K(K-1)/2 SVDs).

8 networks of 2000 samples × 500 units, at alpha=0 (CCA) and alpha=1 (Procrustes).
The floor is measured in the same run with plain numpy/neurosim kernels:
K calls of ``neurosim.metrics.shape.prepare`` plus, per pair, the cross product of
the prepared matrices and its singular values (``np.linalg.svd(..., compute_uv=False)``).
The naive cost (one full ``shape_distance`` per pair, preprocessing repeated) is
printed for reference. Target: pairwise / floor <= 1.5.

Run:  python benchmarks/pairwise.py [--k 8] [--samples 2000] [--units 500] [--repeats 3]
Timings are noisy on a shared machine: floor and pairwise are measured interleaved,
``--repeats`` times each, and the best of each is reported. BLAS is pinned to
``--threads`` threads (default 1: on a loaded 2-core machine extra BLAS threads only
add contention noise).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from neurosim.metrics.shape import prepare, shape_distance
from neurosim.pairwise import pairwise


def interleaved_best(fns, repeats):
    times = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return [min(t) for t in times]


def floor(nets, alpha):
    prepared = [prepare(X, alpha=alpha) for X in nets]
    K = len(prepared)
    for i in range(K):
        for j in range(i + 1, K):
            np.linalg.svd(prepared[i].T @ prepared[j], compute_uv=False)


def naive(nets, alpha):
    K = len(nets)
    for i in range(K):
        for j in range(i + 1, K):
            shape_distance(nets[i], nets[j], alpha=alpha)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (0 = library default)")
    ap.add_argument("--naive", action="store_true", help="also time the naive per-pair loop")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(args.samples, 50))
    nets = [latent @ rng.normal(size=(50, args.units)) + rng.normal(size=(args.samples, args.units))
            for _ in range(args.k)]
    with threadpool_limits(limits=args.threads or None):
        blas = ", ".join(f"{i['internal_api']}:{i['num_threads']} threads" for i in threadpool_info())
        print(f"K={args.k} networks of {args.samples}x{args.units}; best of {args.repeats}; BLAS {blas}")
        run(nets, args)


def run(nets, args) -> None:
    for alpha in (0.0, 1.0):
        t_floor, t_pair = interleaved_best(
            [lambda: floor(nets, alpha), lambda: pairwise(nets, metric="shape", alpha=alpha)], args.repeats
        )
        line = (f"alpha={alpha:.0f}: pairwise {t_pair:7.3f} s   floor {t_floor:7.3f} s   "
                f"ratio {t_pair / t_floor:5.2f}x (target <= 1.5x)")
        if args.naive:
            (t_naive,) = interleaved_best([lambda: naive(nets, alpha)], 1)
            line += f"   naive loop {t_naive:7.3f} s ({t_naive / t_pair:4.1f}x slower than pairwise)"
        print(line)


if __name__ == "__main__":
    main()
