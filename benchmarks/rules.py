"""Learning rules against BPTT: time and memory per update, and gradient alignment at init.

    python benchmarks/rules.py speed       # time per gradient (median) and tracemalloc peak, vs BPTT
    python benchmarks/rules.py alignment   # cosine of each rule's W_rec gradient with BPTT's at init

Workload: the sequential-digits task (T = 45 steps, batch 32) on a Dale's-law network (ModProp and
MDGL need cell types), N = 32 and 64. Rules are timed *interleaved*: every repeat runs each rule
once, in turn, so that a change in machine load hits all rules alike; the table reports medians
and the ratio to BPTT's median of the same N. BLAS is limited to ``--threads`` threads (default 1,
as in ``neurosim.rnn.train``); the BLAS library and its thread count are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import neurosim.rnn as R
from neurosim.rnn.rules import value_and_gradients
from neurosim.rnn.tasks import Digits

RULES = ("bptt", "rtrl", "tbptt", "eprop", "eprop-random", "fa", "modprop", "mdgl")
OPTIONS = {"tbptt": {"window": 20}}


def _setup(N: int, B: int, seed: int = 0):
    task = Digits()
    model = R.LeakyRNN(task.n_in, N, task.n_out, seed=seed, dale=True)
    return model, task.batch(B, np.random.default_rng(seed))


def _blas() -> str:
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)" for i in info) or "unknown"


def speed(args) -> None:
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print(f"BLAS: {_blas()}; numpy {np.__version__}; digits batch {args.batch}, T = 45")
        for N in args.sizes:
            model, batch = _setup(N, args.batch)
            rules = [r for r in RULES if r != "rtrl" or N <= args.rtrl_max]
            times = {r: [] for r in rules}
            for r in rules:  # warm up
                value_and_gradients(model, batch, r, **OPTIONS.get(r, {}))
            for _ in range(args.repeats):
                for r in rules:
                    t = time.perf_counter()
                    value_and_gradients(model, batch, r, **OPTIONS.get(r, {}))
                    times[r].append(time.perf_counter() - t)
            peaks = {}
            for r in rules:
                tracemalloc.start()
                value_and_gradients(model, batch, r, **OPTIONS.get(r, {}))
                peaks[r] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            base_t = statistics.median(times["bptt"])
            print(f"\nN = {N} ({args.repeats} interleaved repeats)")
            print(f"{'rule':14s} {'median ms':>10s} {'x BPTT':>8s} {'peak MiB':>9s} {'x BPTT':>8s}")
            for r in rules:
                med = statistics.median(times[r])
                print(f"{r:14s} {1e3 * med:10.2f} {med / base_t:8.2f} {peaks[r] / 2**20:9.2f} "
                      f"{peaks[r] / peaks['bptt']:8.2f}")


def alignment(args) -> None:
    print(f"cosine(rule W_rec gradient, BPTT W_rec gradient) at initialization; digits batch {args.batch}, "
          f"Dale's law; mean ± SD [min, max] over {args.seeds} seeds")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for N in args.sizes:
            rows = {r: [] for r in RULES if r not in ("bptt", "rtrl")}
            for s in range(args.seeds):
                model, batch = _setup(N, args.batch, seed=s)
                for r in rows:
                    opts = dict(OPTIONS.get(r, {}))
                    if r in ("eprop-random", "fa"):
                        opts["feedback_seed"] = s
                    rows[r].append(R.gradient_alignment(model, batch, r, **opts)["W_rec"]["cosine"])
            print(f"\nN = {N}")
            for r, v in rows.items():
                v = np.asarray(v)
                print(f"{r:14s} {v.mean():+.3f} ± {v.std(ddof=1):.3f} [{v.min():+.3f}, {v.max():+.3f}]")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("speed", "alignment"))
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rtrl-max", type=int, default=32, help="largest N timed with RTRL (O(N^4) per step)")
    args = p.parse_args(argv)
    {"speed": speed, "alignment": alignment}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
