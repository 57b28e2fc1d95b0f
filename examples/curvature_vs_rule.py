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

Run:  python examples/curvature_vs_rule.py --out results/curvature      (≈ 3-5 min on 2 cores)
The same thing from the command line: ``neurosim curvature --out results/curvature``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from neurosim.rnn.generalization import compare_rules, plot_curvature_vs_gap, summarize_rules
from neurosim.rnn.tasks import make


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="context-dependent-integration")
    p.add_argument("--rules", default="bptt,eprop,eprop-random,tbptt")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--n-rec", type=int, default=32)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--target-accuracy", type=float, default=0.9)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("results/curvature"))
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    task = make(args.task)
    table = compare_rules(task, rules=tuple(args.rules.split(",")), seeds=tuple(range(args.seeds)),
                          n_rec=args.n_rec, steps=args.steps, lr=args.lr,
                          target_accuracy=args.target_accuracy, n_jobs=args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".runs.csv.tmp"
    table.to_csv(tmp, index=False)
    tmp.replace(args.out / "runs.csv")
    fig = plot_curvature_vs_gap(table, args.out / "curvature_vs_gap.png")
    print(table.round(4).to_string(index=False))
    print()
    for gap in [c for c in table.columns if c.startswith("gap_")]:
        s = summarize_rules(table, gap=gap)
        if gap == "gap_loss_timing" or gap == [c for c in table.columns if c.startswith("gap_")][0]:
            print(s["text"])
        else:
            print("\n".join(line for line in s["text"].splitlines() if " vs " in line or "correlation" in line))
        print()
    print(f"figure: {fig}\ntable: {args.out / 'runs.csv'}\nwall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
