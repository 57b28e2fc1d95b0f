"""Does e-prop settle in sharper minima, and generalize worse, than BPTT? (Liu et al., NeurIPS 2022)

Trains small leaky RNNs on context-dependent integration (Mante et al. 2013) with BPTT, e-prop
(symmetric feedback), random-feedback e-prop and truncated BPTT over several seeds, compares them
at matched accuracy on the task's 72 noise-free conditions, and reports

* the top eigenvalue of the true loss Hessian w.r.t. W_rec (Lanczos on Hessian-vector products);
* generalization gaps (test − train loss and train − test accuracy) on held-out timing (delays
  longer than any in training), held-out conditions (coherences between the training levels)
  and noisy inputs;
* their correlation across runs, with a figure (PNG) that draws the 2/lr line (exact for plain
  gradient descent; a reference scale only for the Adam used here — see docs/curvature.md).

Run:  python examples/curvature_vs_rule.py --out results/curvature   (~2 CPU-minutes: 1-3 min on 2 cores)
      python examples/curvature_vs_rule.py --quick --out /tmp/curv     (seconds; checks every step runs)
The same thing from the command line: ``neurosim curvature --out results/curvature``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from neurosim.experiments.liu2022 import (compare_rules, curvature_report, curvature_trajectories,
                                          plot_curvature_along_training)
from neurosim.rnn.tasks import make


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="context-dependent-integration")
    p.add_argument("--rules", default="bptt,eprop,eprop-random,tbptt")
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--n-rec", type=int, default=32)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--target-accuracy", type=float, default=0.9)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("results/curvature"))
    p.add_argument("--along-training", action="store_true",
                   help="also retrain seed 0 of each rule and plot lambda_max at 10 of its checkpoints "
                        "(about 1 extra CPU-minute)")
    p.add_argument("--quick", action="store_true",
                   help="a tiny run (2 rules, 2 seeds, 12 units, 40 updates, one process) that checks every "
                        "step runs in seconds; its numbers mean nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.rules, args.seeds, args.n_rec, args.steps, args.jobs = "bptt,eprop", 2, 12, 40, 1
        args.target_accuracy = 0.3

    t0 = time.perf_counter()
    task = make(args.task)
    table = compare_rules(task, rules=tuple(args.rules.split(",")), seeds=tuple(range(args.seeds)),
                          n_rec=args.n_rec, steps=args.steps, lr=args.lr,
                          target_accuracy=args.target_accuracy, n_jobs=args.jobs)
    print(table.round(4).to_string(index=False))
    print()
    print(curvature_report(table, args.out))
    if args.along_training:
        tables = curvature_trajectories(task, tuple(args.rules.split(",")), n_rec=args.n_rec, steps=args.steps,
                                        lr=args.lr)
        for rule, table in tables.items():
            print(f"{rule}: λ_max along training (seed 0)",
                  table[["step", "accuracy", "lambda_max"]].round(3).to_string(index=False), sep="\n")
        plot_curvature_along_training(tables, args.out / "curvature_along_training.png", lr=args.lr)
    print(f"written to {args.out}/ (runs.csv, summary.txt, curvature_vs_gap.png); "
          f"wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
