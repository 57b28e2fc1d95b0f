"""Benchmark: inference through compare() and the ceiling, fast path vs the naive loops.

M1 (Hatsopoulos 2007: 8 conditions × 121 bins × 141 units) against a 200-unit model
(a random projection of the data plus noise), angular Procrustes with normalize=True:

* bootstrap=1000      vs 1000 ``compare()`` calls on resampled (relabelled) conditions
* LOO-CV              vs ``compare(cv="loo", fast=False)`` (refit on sliced arrays per fold)
* 1000 permutations   vs 1000 ``compare()`` calls with the model's condition labels shuffled
* 100-draw ceiling    vs ``split_half_ceiling(fast=False)`` (the metric on every sliced half)

Each case and its naive loop are measured interleaved, ``--repeats`` times; medians are printed
with their ratio, the BLAS library and thread count. Targets: bootstrap ≤ 0.2× and < 1.5 s;
LOO-CV, permutations and ceiling ≤ 0.3×.

``bootstrap, jobs=2`` is the same bootstrap with replicates evaluated in two threads.

Run:  python benchmarks/inference.py [--data ../shared/data] [--repeats 3]
(from a source checkout without an installed neurosim: ``PYTHONPATH=. python benchmarks/inference.py``)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info

from neurosim import compare, datasets
from neurosim.baselines import split_half_ceiling
from neurosim.trajectories import trajectories


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def relabel(da, idx):
    """Conditions ``idx`` of ``da`` (repeats allowed) under fresh labels 0..C-1."""
    out = da.isel(condition=idx)
    return out.assign_coords(condition=np.arange(len(idx)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="folder with the recordings")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--units", type=int, default=200, help="model units")
    args = ap.parse_args()

    data = datasets.load("hatsopoulos2007", path=args.data)["rates"]
    C, T, N = (data.sizes[d] for d in ("condition", "time", "unit"))
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(N, args.units)) / np.sqrt(N)
    values = data.values @ proj + 2.0 * rng.normal(size=(C, T, args.units))
    model = trajectories(values, conditions=data["condition"].values, time=data["time"].values)
    opts = {"normalize": True}

    def boot_fast():
        compare(model, data, bootstrap=1000, seed=0, **opts)

    def boot_fast_2():
        compare(model, data, bootstrap=1000, seed=0, jobs=2, **opts)

    def boot_naive():
        r = np.random.default_rng(0)
        for _ in range(1000):
            idx = r.integers(0, C, size=C)
            compare(relabel(model, idx), relabel(data, idx), **opts)

    def loo_fast():
        compare(model, data, cv="loo", **opts)

    def loo_naive():
        compare(model, data, cv="loo", fast=False, **opts)

    def perm_fast():
        compare(model, data, permutations=1000, seed=0, **opts)

    def perm_naive():
        r = np.random.default_rng(0)
        labels = model["condition"].values
        for _ in range(1000):
            compare(model.assign_coords(condition=labels[r.permutation(C)]), data, **opts)

    def ceil_fast():
        split_half_ceiling(data, n_splits=100, seed=0, **opts)

    def ceil_naive():
        split_half_ceiling(data, n_splits=100, seed=0, fast=False, **opts)

    cases = [("bootstrap=1000", boot_fast, boot_naive, 0.2), ("bootstrap, jobs=2", boot_fast_2, boot_naive, 0.2), ("LOO-CV", loo_fast, loo_naive, 0.3),
             ("1000 permutations", perm_fast, perm_naive, 0.3), ("100-draw ceiling", ceil_fast, ceil_naive, 0.3)]
    for _, fast, _, _ in cases:  # warm-up (imports, caches)
        fast()
    times = {name: ([], []) for name, *_ in cases}
    for _ in range(args.repeats):
        for name, fast, naive, _ in cases:  # interleaved: fast, naive, next case, ...
            times[name][0].append(timed(fast))
            times[name][1].append(timed(naive))

    blas = [f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads by default)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"M1 {C} conditions × {T} bins × {N} units vs a {args.units}-unit model; procrustes, normalize=True")
    print(f"BLAS: {'; '.join(blas) or 'unknown'}; compare/ceiling loops run with threads=1 (the default)")
    print(f"medians of {args.repeats} interleaved repeats")
    print(f"{'case':<20}{'fast (s)':>10}{'naive (s)':>11}{'ratio':>8}{'target':>8}")
    for name, *_, target in cases:
        f, n = np.median(times[name][0]), np.median(times[name][1])
        ok = f / n <= target and (not name.startswith("bootstrap") or f < 1.5)
        print(f"{name:<20}{f:>10.3f}{n:>11.3f}{f / n:>8.3f}{target:>8.2f}  {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
