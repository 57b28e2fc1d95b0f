"""Speed of the metric kernels relative to their linear-algebra floor, measured in one run.

For X, Y of shape (2000, 500) the floor is the centred product ``(X - x̄)ᵀ(Y - ȳ)`` in plain
numpy plus the singular values of that 500×500 matrix -- the least any Procrustes
implementation must do.  Every metric is timed in the same process (median and best of
``--repeats`` interleaved rounds) and printed with its ratio to the floor.  Procrustes is
timed in two regimes: zero-mean columns, and large column means that carry most of the
data's energy (the usual case for firing rates, which the centring must not make slow).
RSA on 2000 conditions is timed against rsatoolbox when it is installed.

    python benchmarks/metrics.py [--repeats 5] [--n 2000] [--p 500] [--conditions 2000]

Targets: Procrustes ≤ 1.1× floor in both regimes; linear CKA ≤ 0.1 s; RSA faster than
rsatoolbox.
Timings on a shared machine are noisy; compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_info

from neurosim.metrics import (
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    compare_rdms,
    prepare,
    prepared_distance,
    procrustes_distance,
    rdm,
    rsa,
    shape_distance,
)


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up (BLAS threads, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--p", type=int, default=500)
    ap.add_argument("--conditions", type=int, default=2000)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.p))
    Y = X @ rng.normal(size=(args.p, args.p)) / np.sqrt(args.p) + rng.normal(size=(args.n, args.p))

    # large-mean regime: column means carry ~99% of each matrix's energy
    Xm = X + 10.0 * (1.0 + rng.random(args.p))
    Ym = Y + 10.0 * (1.0 + rng.random(args.p))

    def floor_of(P, Q):
        def floor():
            return scipy.linalg.svd((P - P.mean(0)).T @ (Q - Q.mean(0)), compute_uv=False, check_finite=False).sum()
        return floor

    floor, floor_mean = floor_of(X, Y), floor_of(Xm, Ym)
    assert abs(np.cos(procrustes_distance(Xm, Ym)) * np.linalg.norm(Xm - Xm.mean(0))
               * np.linalg.norm(Ym - Ym.mean(0)) - floor_mean()) < 1e-9 * floor_mean()

    A, B = prepare(X), prepare(Y)
    A0, B0 = prepare(X, alpha=0.0), prepare(Y, alpha=0.0)
    cases = [
        ("floor: centred XᵀY + singular values", floor),
        ("procrustes_distance", lambda: procrustes_distance(X, Y)),
        ("procrustes (euclidean)", lambda: procrustes_distance(X, Y, kind="euclidean")),
        ("floor, large means", floor_mean),
        ("procrustes_distance, large means", lambda: procrustes_distance(Xm, Ym)),
        ("procrustes (euclidean), large means", lambda: procrustes_distance(Xm, Ym, kind="euclidean")),
        ("prepared_distance (alpha=1, per pair)", lambda: prepared_distance(A, B)),
        ("prepared_distance (alpha=0, per pair)", lambda: prepared_distance(A0, B0)),
        ("shape_distance alpha=0.5", lambda: shape_distance(X, Y, alpha=0.5)),
        ("cca_distance", lambda: cca_distance(X, Y)),
        ("canonical_correlations", lambda: canonical_correlations(X, Y)),
        ("cca_similarity svcca", lambda: cca_similarity(X, Y, "svcca")),
        ("cka linear", lambda: cka(X, Y)),
        ("cka linear debiased", lambda: cka(X, Y, debiased=True)),
    ]
    # interleaved rounds: every case is timed once per round, keep each case's best;
    # load changes on a shared machine then hit all cases alike
    times = {name: [] for name, _ in cases}
    cpu = {name: [] for name, _ in cases}
    for fn in (c[1] for c in cases):
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in cases:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    best = {k: float(np.min(v)) for k, v in times.items()}
    med_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
    blas = [f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"X, Y: {X.shape}, {args.repeats} interleaved rounds; BLAS: {', '.join(blas) or 'unknown'}")
    print("(wall-clock medians; CPU-time medians too, which other processes on a shared machine disturb far less)")
    print(f"{'metric':42s} {'median (ms)':>11s} {'best (ms)':>10s} {'× floor':>8s} {'CPU (ms)':>9s} {'× floor':>8s}")
    for name, _ in cases:
        ref = "floor, large means" if "large means" in name else cases[0][0]
        print(f"{name:42s} {med[name] * 1e3:11.1f} {best[name] * 1e3:10.1f} {med[name] / med[ref]:8.2f} "
              f"{med_cpu[name] * 1e3:9.1f} {med_cpu[name] / med_cpu[ref]:8.2f}")
    for label, m in (("wall", med), ("CPU", med_cpu)):
        ratio = m["procrustes_distance"] / m[cases[0][0]]
        ratio_m = m["procrustes_distance, large means"] / m["floor, large means"]
        print(f"target ({label} medians): procrustes ≤ 1.1× floor -> {ratio:.2f}× (zero means), "
              f"{ratio_m:.2f}× (large means); linear CKA ≤ 0.1 s -> {m['cka linear']:.3f} s")

    # ---- RSA on many conditions
    K = args.conditions
    P = rng.normal(size=(K, 100))
    Q = np.tanh(P @ rng.normal(size=(100, 80)))
    t_ours = best_time(lambda: rsa(P, Q), max(1, args.repeats // 2))
    t_rdm = best_time(lambda: rdm(P), max(1, args.repeats // 2))
    a, b = rdm(P), rdm(Q)
    t_cmp = best_time(lambda: compare_rdms(a, b), max(1, args.repeats // 2))
    print(f"\nRSA, {K} conditions (correlation RDMs, Spearman): neurosim {t_ours:.3f} s "
          f"(rdm {t_rdm:.3f} s, compare {t_cmp:.3f} s)")
    try:
        from rsatoolbox.data import Dataset
        from rsatoolbox.rdm import calc_rdm
        from rsatoolbox.rdm import compare as rsa_compare
    except ImportError:
        print("rsatoolbox not installed: no reference timing")
        return

    def reference():
        r1 = calc_rdm(Dataset(P), method="correlation")
        r2 = calc_rdm(Dataset(Q), method="correlation")
        return rsa_compare(r1, r2, method="spearman")[0, 0]

    t_ref = best_time(reference, max(1, args.repeats // 2))
    agree = abs(reference() - rsa(P, Q))
    print(f"rsatoolbox {t_ref:.3f} s -> neurosim is {t_ref / t_ours:.2f}× faster (|difference| = {agree:.1e})")


if __name__ == "__main__":
    main()
