"""Benchmark: cost of the sequential-MNIST curvature experiment's pieces (Liu et al. 2022's recipe).

At N = 128 units (Dale's law, as in the experiment), batch 256, T = 28 steps (row-wise MNIST),
the median time of:

- one training iteration as ``train`` runs it (draw a batch, rule gradient, L2 term, finiteness
  check, SGD step) for each rule, in float64 and in float32 (``train(..., dtype=...)``);
- one checkpoint's errors: ``evaluate`` on the 3,500 training images plus the clean and the noisy
  test error (1,000 images each);
- one exact Hessian-vector product on the 256-image validation batch: the first product at a
  point (it also runs the forward and backward passes there) and each later one;
- ``lambda_max`` by Lanczos and by power iteration (tolerance 1e-6) on a network trained for
  ``--train-steps`` SGD iterations, with the number of products each needed;
- one finite-difference Jacobian-vector product of the e-prop update (2 gradients + 2 forward
  passes of the kink check), the unit of ``rule_curvature``.

Prints the medians, the BLAS thread count and the load average (the machine may be shared:
compare ratios, and re-run on an idle machine for absolute times), then the estimated wall time of
an experiment configuration over 2 workers (longest-first scheduling, from these medians).

Run (from the repository root):
    PYTHONPATH=. python benchmarks/seqmnist.py [--repeats 7] [--rules bptt,eprop,mdgl,modprop]
        [--train-steps 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import heapq
import os
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import neurosim.rnn as R
from neurosim.experiments.liu2022 import seqmnist_settings
from neurosim.rnn.analysis.curvature import _Hessian, top_eigenvalues
from neurosim.rnn.optim import SGD, weight_decay_penalty
from neurosim.rnn.tasks import SequentialMNIST
from _timing import median_seconds  # noqa: E402 (benchmarks/ is the script's folder)


def median_seconds_warm(fn, repeats: int) -> float:
    """Every piece here is timed after one warm-up call."""
    return median_seconds(fn, repeats, warmup=True)


def estimate(settings: dict, it: dict, ck_cost: float, lam_cost: float, final_cost: float, workers: int = 2):
    """(CPU seconds, wall seconds over ``workers`` with longest-first scheduling) of a configuration."""
    durations = []
    for rule in (*settings["rules"], *settings["remedies"]):
        base = "eprop" if rule == "eprop-boost" else rule
        steps = settings["steps"]["bptt" if rule == "bptt" else "eprop"]
        seeds = settings["seeds"] if rule in settings["rules"] else settings.get("remedy_seeds") or settings["seeds"]
        every = settings["checkpoint_every"]
        n_ck = len(set(range(0, steps + 1, every)) | {steps})
        lam_every = settings.get("curvature_every") or every
        n_lam = len({c for c in range(0, steps + 1, every) if c % lam_every == 0} | {steps})
        durations += [steps * it[base] + n_ck * ck_cost + n_lam * lam_cost + final_cost] * len(seeds)
    loads = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + d)
    return sum(durations), max(loads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-rec", type=int, default=128)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rules", default="bptt,eprop,mdgl,modprop")
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    task = SequentialMNIST()
    rng = np.random.default_rng(0)
    val = task.validation_task().batch(256, np.random.default_rng(1))
    test = task.test_task()
    clean, noisy = test.conditions(), test.corrupted(0.2, 0)
    names = ("W_in", "W_rec", "W_out")
    it = {"float64": {}, "float32": {}}
    with threadpool_limits(args.threads):
        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
        print(f"BLAS {blas}; load average {os.getloadavg()[0]:.2f}; N={args.n_rec} (Dale), batch {args.batch}, T=28, "
              f"median of {args.repeats}")
        for rule in args.rules.split(","):
            row = []
            for dtype in ("float64", "float32"):
                m = R.LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=0, dale=True)
                opt = SGD(lr=1e-2)

                def step(m=m, rule=rule, opt=opt, dtype=dtype):  # what train() does per iteration
                    b = task.batch(args.batch, rng)
                    E, g = R.value_and_gradients(m, b, rule, dtype=dtype)
                    penalty, d = weight_decay_penalty(m.params, 1e-2, names)
                    for k, v in d.items():
                        g[k] = g[k] + v
                    assert np.isfinite(E + penalty) and all(np.all(np.isfinite(v)) for v in g.values())
                    opt.step(m.params, g)

                row.append(median_seconds_warm(step, args.repeats))
            it["float64"][rule], it["float32"][rule] = row
            print(f"iteration ({rule:8s}): float64 {row[0] * 1e3:6.1f} ms, float32 {row[1] * 1e3:6.1f} ms "
                  f"(x{row[0] / row[1]:.2f})")
        model = R.LeakyRNN(task.n_in, args.n_rec, task.n_out, seed=0, dale=True)
        t0 = time.perf_counter()
        run = R.train(model, task, "bptt", steps=args.train_steps, lr=1e-2, batch_size=args.batch, optimizer="sgd",
                      weight_decay=1e-2, checkpoints=[0, args.train_steps], progress=False, dtype="float32")
        print(f"(trained {args.train_steps} float32 BPTT iterations in {time.perf_counter() - t0:.1f} s; "
              f"training accuracy {run.checkpoints['accuracy'].iloc[-1]:.2f})")
        trained = run.model()

        def errors():
            R.evaluate(trained, task)
            for b in (clean, noisy):
                test.accuracy(trained(b.inputs), b)

        ck = median_seconds_warm(errors, max(3, args.repeats // 2))
        print(f"checkpoint errors (train 3,500 + clean and noisy test 1,000 images): {ck * 1e3:8.1f} ms")
        v = np.random.default_rng(2).normal(size=args.n_rec ** 2)
        first = median_seconds_warm(lambda: _Hessian(trained, val, ("W_rec",), 1e-5, "exact", 1e-2)(v), args.repeats)
        op = _Hessian(trained, val, ("W_rec",), 1e-5, "exact", 1e-2)
        later = median_seconds_warm(lambda: op(v), args.repeats)
        print(f"exact Hessian-vector product (W_rec, 256 validation images): first {first * 1e3:6.1f} ms, "
              f"later {later * 1e3:6.1f} ms")
        lam = {}
        for method in ("lanczos", "power"):
            op = _Hessian(trained, val, ("W_rec",), 1e-5, "exact", 1e-2)
            t0 = time.perf_counter()
            value = top_eigenvalues(op, op.dim, 1, tol=1e-6, max_iter=500, method=method, seed=12345)[0]
            lam[method] = time.perf_counter() - t0
            print(f"lambda_max by {method:7s}: {value:.8g} in {lam[method]:6.2f} s ({op.n_products} products)")
        jvp = median_seconds_warm(lambda: [(R.gradients(trained, val, "eprop"), trained.run(val.inputs))
                                   for _ in range(2)], args.repeats)
        print(f"finite-difference Jacobian-vector product of the e-prop update: {jvp * 1e3:8.1f} ms")
    if set(it["float32"]) >= {"bptt", "eprop", "mdgl", "modprop"}:
        final = 60 * jvp  # rule_curvature: Arnoldi, ~20-60 products
        for name, s in (("default", seqmnist_settings()), ("--full", seqmnist_settings(full=True))):
            cpu, wall = estimate(s, it[s["dtype"]], ck, lam[s["method"]], final)
            print(f"estimate {name}: {cpu / 60:.1f} CPU-min, {wall / 60:.1f} min wall on 2 workers "
                  f"(longest first; at these medians, lambda_max at {lam[s['method']]:.2f} s each)")


if __name__ == "__main__":
    main()
