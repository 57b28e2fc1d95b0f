"""Measurement: bias and error of the bias-corrected vs the plug-in estimators, on simulations.

True condition means ``M_x`` (C × p, power-law spectrum with slope 0.5) and
``M_y = M_x W / sqrt(p) + 0.5 · noise`` (C × q) are fixed; each draw adds unit-variance
Gaussian trial noise (``--noise``) to ``r`` trials per condition on each side.  For every
trial count the script prints, over ``--draws`` draws, the mean error (mean estimate − truth)
and the root-mean-square error of

* the plug-in: the metric on the trial averages (``procrustes_distance``, ``cka``);
* the bias-corrected estimators (``bias_corrected_procrustes_distance``, ``bias_corrected_cka``);

and the ratio |mean error corrected| / |mean error plug-in|, plus the median time per call.

Run (from the repository root):
    PYTHONPATH=. python benchmarks/bias_corrected.py [--conditions 50] [--units 20] [--draws 200]
        [--trials 2 3 5 10 20] [--noise 1.0] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from neurosim.metrics import bias_corrected_cka, bias_corrected_procrustes_distance, cka, procrustes_distance


def truth(C, p, q, seed=0):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(C, p)))[0]
    V = np.linalg.qr(rng.normal(size=(p, p)))[0]
    Mx = (U * (np.arange(1, p + 1.0) ** -0.5 * 2 * np.sqrt(C))) @ V
    My = Mx @ rng.normal(size=(p, q)) / np.sqrt(p) + 0.5 * rng.normal(size=(C, q))
    return Mx, My


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=50)
    ap.add_argument("--units", type=int, default=20)
    ap.add_argument("--units-y", type=int, default=None)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--trials", type=int, nargs="+", default=[2, 3, 5, 10, 20])
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    C, p = args.conditions, args.units
    q = args.units_y or p
    Mx, My = truth(C, p, q)
    fns = {
        "procrustes angular": (lambda X, Y: procrustes_distance(X.mean(1), Y.mean(1)),
                               bias_corrected_procrustes_distance, procrustes_distance(Mx, My)),
        "procrustes euclidean": (lambda X, Y: procrustes_distance(X.mean(1), Y.mean(1), kind="euclidean"),
                                 lambda X, Y: bias_corrected_procrustes_distance(X, Y, kind="euclidean"),
                                 procrustes_distance(Mx, My, kind="euclidean")),
        "linear CKA": (lambda X, Y: cka(X.mean(1), Y.mean(1)), bias_corrected_cka, cka(Mx, My)),
    }
    blas = ", ".join(f"{i['internal_api']}" for i in threadpool_info() if i["user_api"] == "blas")
    print(f"C={C} conditions, p={p}, q={q} units, noise sd {args.noise}, {args.draws} draws, "
          f"BLAS threads={args.threads} ({blas})")
    with threadpool_limits(args.threads, user_api="blas"):
        for name, (plug, corr, true) in fns.items():
            print(f"\n{name}: truth {true:.4f}")
            print(f"{'trials':>6} {'plug-in mean err':>17} {'rmse':>8} {'corrected mean err':>19} {'rmse':>8} "
                  f"{'ratio':>6} {'ms plug':>8} {'ms corr':>8}")
            for r in args.trials:
                if name == "linear CKA" and r < 4:
                    continue
                rng = np.random.default_rng(100 + r)
                P, B, tp, tb = [], [], [], []
                for _ in range(args.draws):
                    X = Mx[:, None] + args.noise * rng.normal(size=(C, r, p))
                    Y = My[:, None] + args.noise * rng.normal(size=(C, r, q))
                    t0 = time.perf_counter()
                    P.append(plug(X, Y))
                    t1 = time.perf_counter()
                    B.append(corr(X, Y))
                    t2 = time.perf_counter()
                    tp.append(t1 - t0)
                    tb.append(t2 - t1)
                P, B = np.asarray(P) - true, np.asarray(B) - true
                ratio = abs(B.mean()) / abs(P.mean())
                print(f"{r:>6} {P.mean():>+17.4f} {np.sqrt(np.mean(P**2)):>8.4f} {B.mean():>+19.4f} "
                      f"{np.sqrt(np.mean(B**2)):>8.4f} {ratio:>6.2f} {1e3 * np.median(tp):>8.2f} "
                      f"{1e3 * np.median(tb):>8.2f}")


if __name__ == "__main__":
    main()
