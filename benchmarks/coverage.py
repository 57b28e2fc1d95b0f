"""Benchmark: coverage of compare_models and rule_difference intervals on simulated data with a known answer.

The simulations are those of the test suite (tests/_coverage.py), at larger sizes:

* compare_models: data (C conditions × T bins × q units) and three models = data + independent
  noise (sigma 0.8, 1.2, 1.2). The population angular Procrustes distance has a closed form, so
  m0 − m1 has a known value and m1 − m2 is exactly 0. Reported: the fraction of draws whose 95 %
  interval covers the truth (differences, and one model's own distance), and how often the TOST
  p-value with the margin at the true |m0 − m1| falls below 0.05 and 0.2 (uniform or conservative:
  at most 0.05 and 0.2).
* rule_difference, full pipeline: pairs of networks sharing an initialisation (a random scale of
  both rules' noise, sd tau), scored with compare_models on shared condition draws, then the
  two-level bootstrap. The truth is E_u[d(sigma_a e^u) − d(sigma_b e^u)] (quadrature).
* rule_difference with several batch orders per initialisation (the ``--claims`` design): the
  gap varies between initialisations (SD 0.02) more than between batch orders (SD 0.005); the
  interval that resamples initialisations (``cluster_by``) against the one that treats every
  pair as a unit.

Run:  python benchmarks/coverage.py [--draws 200] [--quick]
(from a source checkout: ``PYTHONPATH=. python benchmarks/coverage.py``)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _coverage import (simulate_batch_orders, simulate_networks, simulate_pair, true_distance,  # noqa: E402
                       true_network_difference)

from neurosim import compare_models  # noqa: E402
from neurosim.experiments import rule_difference  # noqa: E402


def models_coverage(draws: int, C: int, T: int, q: int, B: int, seed: int = 0) -> dict:
    sig = (0.8, 1.2, 1.2)
    truth = true_distance(sig[0]) - true_distance(sig[1])
    rng = np.random.default_rng(seed)
    cov = {"difference": [], "zero": [], "one model": []}
    p_eq = []
    for k in range(draws):
        models, data = simulate_pair(rng, sig, C=C, T=T, q=q)
        r = compare_models(models, data, bootstrap=B, permutations=None, margin=abs(truth), normalize=True, seed=k)
        d = r.differences.set_index(["model_a", "model_b"])
        s = r.scores.set_index("model")
        cov["difference"].append(d.loc[("m0", "m1"), "ci_low"] <= truth <= d.loc[("m0", "m1"), "ci_high"])
        cov["zero"].append(d.loc[("m1", "m2"), "ci_low"] <= 0 <= d.loc[("m1", "m2"), "ci_high"])
        cov["one model"].append(s.loc["m0", "ci_low"] <= true_distance(sig[0]) <= s.loc["m0", "ci_high"])
        p_eq.append(d.loc[("m0", "m1"), "p_equivalence"])
    p_eq = np.asarray(p_eq)
    return {**{k: float(np.mean(v)) for k, v in cov.items()}, "P(TOST p<=0.05)": float(np.mean(p_eq <= 0.05)),
            "P(TOST p<=0.2)": float(np.mean(p_eq <= 0.2))}


def networks_coverage(draws: int, n_init: int, C: int, T: int, q: int, B: int, seed: int = 0) -> dict:
    out = {}
    for name, (sa, sb) in {"difference": (0.8, 1.2), "zero": (1.0, 1.0)}.items():
        truth = true_network_difference(sa, sb)
        margin = abs(truth) if truth else 0.05
        rng = np.random.default_rng(seed)
        cover, p_eq = [], []
        for k in range(draws):
            models, data, meta = simulate_networks(rng, sa, sb, n_init=n_init, C=C, T=T, q=q)
            r = compare_models(models, data, bootstrap=B, permutations=None, normalize=True, seed=k)
            table = pd.DataFrame(meta).merge(r.scores.rename(columns={"model": "run"}), on="run")
            res = rule_difference(table, r.replicates, rules=("a", "b"), pair_by="seed", margin=margin, n_boot=2000,
                                  seed=k)
            cover.append(res["ci_low"] <= truth <= res["ci_high"])
            p_eq.append(res["p_equivalence"])
        out[name] = float(np.mean(cover))
        if truth:
            p_eq = np.asarray(p_eq)
            out["P(TOST p<=0.05)"] = float(np.mean(p_eq <= 0.05))
            out["P(TOST p<=0.2)"] = float(np.mean(p_eq <= 0.2))
    return out


def batch_orders_coverage(draws: int, n_init: int, n_orders: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    mu = 0.01
    hits = {"initialisations as units": 0, "pairs as units": 0}
    for k in range(draws):
        t = simulate_batch_orders(rng, mu=mu, n_init=n_init, n_orders=n_orders)
        kw = dict(pair_by=["g0", "init_seed", "seed"], margin=0.01, n_boot=2000, seed=k)
        for name, cluster in (("initialisations as units", ["g0", "init_seed"]), ("pairs as units", None)):
            r = rule_difference(t, cluster_by=cluster, **kw)
            hits[name] += r["ci_low"] <= mu <= r["ci_high"]
    return {name: v / draws for name, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="the suite's sizes only")
    args = ap.parse_args()
    blas = threadpool_info()
    print(f"BLAS: {', '.join(sorted({i.get('internal_api', '?') for i in blas}))}, threads limited to 1; "
          f"{args.draws} simulated draws per case; target coverage 0.90–0.99")
    cases = [("compare_models", dict(C=20, T=3, q=3, B=100))]
    if not args.quick:
        cases += [("compare_models", dict(C=8, T=20, q=4, B=200)), ("compare_models", dict(C=40, T=5, q=4, B=200))]
    with threadpool_limits(1):
        for name, kw in cases:
            t = time.perf_counter()
            res = models_coverage(args.draws, **kw)
            print(f"{name} {kw}: " + ", ".join(f"{k} {v:.3f}" for k, v in res.items())
                  + f"  ({time.perf_counter() - t:.0f} s)", flush=True)
        net_cases = [dict(n_init=6, C=20, T=5, q=4, B=50)]
        if not args.quick:
            net_cases.append(dict(n_init=10, C=8, T=20, q=4, B=100))
        for kw in net_cases:
            t = time.perf_counter()
            res = networks_coverage(args.draws, **kw)
            print(f"rule_difference {kw}: " + ", ".join(f"{k} {v:.3f}" for k, v in res.items())
                  + f"  ({time.perf_counter() - t:.0f} s)", flush=True)
        order_cases = [dict(n_init=10, n_orders=2)]
        if not args.quick:
            order_cases += [dict(n_init=5, n_orders=4), dict(n_init=20, n_orders=3)]
        for kw in order_cases:
            t = time.perf_counter()
            res = batch_orders_coverage(args.draws, **kw)
            print(f"rule_difference, batch orders {kw}: " + ", ".join(f"{k} {v:.3f}" for k, v in res.items())
                  + f"  ({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
