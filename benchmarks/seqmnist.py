"""Benchmark: cost of the sequential-MNIST curvature experiment's pieces (Liu et al. 2022's recipe).

At N = 128 units, batch 256, T = 28 steps (row-wise MNIST): the median time of one training
iteration (rule gradient + L2 term + SGD step) for each rule, of one checkpoint evaluation
(forward pass on the 3,500 training images), of one exact Hessian-vector product on the
256-image validation batch, and of one finite-difference Jacobian-vector product of a rule's
update (two rule gradients). Prints the medians, the BLAS thread count and the load average
(the machine may be shared: compare ratios, and re-run on an idle machine for absolute times).

Run (from the repository root):
    PYTHONPATH=. python benchmarks/seqmnist.py [--n-rec 128] [--batch 256] [--repeats 5]
        [--rules bptt,eprop] [--threads 1] [--dtype float64]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import neurosim.rnn as R
from neurosim.rnn.analysis.curvature import hessian_vector_product
from neurosim.rnn.optim import SGD, weight_decay_penalty
from neurosim.rnn.tasks import SequentialMNIST


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-rec", type=int, default=128)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rules", default="bptt,eprop")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="float64")
    args = ap.parse_args()
    task = SequentialMNIST()
    model = R.LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=0)
    rng = np.random.default_rng(0)
    batch = task.batch(args.batch, rng)
    val = task.validation_task().batch(256, np.random.default_rng(1))
    names = ("W_in", "W_rec", "W_out")
    with threadpool_limits(args.threads):
        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
        print(f"BLAS {blas}; load average {os.getloadavg()[0]:.2f}; N={args.n_rec}, batch {args.batch}, T=28, "
              f"{args.dtype}, median of {args.repeats}")
        for rule in args.rules.split(","):
            opts = {"window": 10} if rule == "tbptt" else {}
            m = R.LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=0, dale=rule in ("mdgl", "modprop"))
            opt = SGD(lr=1e-2)

            def step(m=m, rule=rule, opts=opts, opt=opt):
                E, g = R.value_and_gradients(m, batch, rule, dtype=args.dtype if rule in R.rules.FLOAT32_RULES
                                             else "float64", **opts)
                _, d = weight_decay_penalty(m.params, 1e-2, names)
                for k, v in d.items():
                    g[k] = g[k] + v
                opt.step(m.params, g)

            print(f"iteration ({rule:8s}): {median_time(step, args.repeats) * 1e3:8.1f} ms")
        ev = median_time(lambda: R.evaluate(model, task), max(1, args.repeats // 2))
        print(f"checkpoint evaluation (3,500 training images): {ev * 1e3:8.1f} ms")
        v = np.random.default_rng(2).normal(size=args.n_rec ** 2)
        hvp = median_time(lambda: hessian_vector_product(model, val, v), args.repeats)
        print(f"exact Hessian-vector product (W_rec, 256 validation images): {hvp * 1e3:8.1f} ms")
        jvp = median_time(lambda: [R.gradients(model, val, "eprop") for _ in range(2)], args.repeats)
        print(f"finite-difference Jacobian-vector product of the e-prop update (2 gradients): {jvp * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
