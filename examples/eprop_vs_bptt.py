"""e-prop vs BPTT: is the learning rule visible in similarity to monkey M1?

The script a scientist would start from: it trains a small sweep of RNNs on
centre-out reaching (kinematics from the Hatsopoulos 2007 recordings) with BPTT,
e-prop and random-feedback e-prop, then measures, at matched task accuracy, how
close each network's activity is to the 141 recorded M1 units — step by step with
the public API, so every choice (window, metric, levels) is in plain sight.
``neurosim reproduce`` runs the same analysis at larger scale and writes a report.

Run:  python examples/eprop_vs_bptt.py [--steps 300] [--n-rec 50] [--seeds 2]   (~2-4 min on 2 cores)
      python examples/eprop_vs_bptt.py --quick      (a few seconds: checks that every step runs;
                                                     its numbers mean nothing)
"""

from __future__ import annotations

import argparse

import numpy as np

import neurosim
from neurosim.baselines import condition_average, split_half_ceiling
from neurosim.datasets import load
from neurosim.experiments.decomposition import variance_decomposition
from neurosim.experiments.sweep import grid, sweep
from neurosim.matching import accuracy_matched, model_distances
from neurosim.rnn.analysis import participation_ratio
from neurosim.rnn.tasks import CenterOutReach




def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None,
                    help="your own copy of the recordings (default: $NEUROSIM_DATA, the user cache, else the "
                         "verified copy that ships inside the package)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--n-rec", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="a tiny run (8 units, 20 updates, 2 seeds, accuracy levels below 0) that checks every step "
                         "runs in a few seconds; its numbers mean nothing")
    args = ap.parse_args(argv)
    levels = (0.8, 0.9)
    if args.quick:
        args.steps, args.n_rec, args.seeds = 20, 8, 2
        levels = (-10.0, -1.0)  # reached by (nearly) untrained networks, so every step below has rows to show

    # 1. data and task: the recordings' kinematics are the network's targets
    ds = load("hatsopoulos2007", path=args.data)
    rates = ds["rates"]                                    # (condition, time, unit), spikes/s
    task = CenterOutReach.from_dataset(ds)

    # 2. a small sweep: 3 rules x 2 initial gains x seeds
    specs = grid(["bptt", "eprop", "eprop-random"], seeds=range(args.seeds), g0s=(0.5, 1.5),
                 n_rec=args.n_rec, steps=args.steps, lr=1e-3, batch_size=32,
                 checkpoints=tuple(np.linspace(0, args.steps, 21).astype(int)))
    runs = sweep(specs, task)

    # 3. baselines: the data against itself, and a condition-blind copy of it
    window = (-600.0, 400.0)                               # ms around movement onset
    ceiling = split_half_ceiling(rates, window=window, normalize=True)
    blind = neurosim.compare(condition_average(rates), rates, window=window, normalize=True)
    print(f"split-half ceiling {ceiling.value:.3f}, condition-average baseline {blind.value:.3f}")

    # 4. distance to M1 at matched accuracy (first checkpoint reaching each level)
    table = accuracy_matched(runs, rates, levels=levels, window=window, ceiling=ceiling, normalize=True)
    print(table[["run", "level", "step", "accuracy", "distance", "distance_normalized"]].round(3).to_string())
    ok = table[table["reached"]]
    print("\nmean distance at matched accuracy:")
    print(ok.groupby(["level", "rule"])["distance"].agg(["mean", "std", "count"]).round(3))

    # 5. rule vs initialization: share of variance of the matched distance
    for level, sub in ok.groupby("level"):
        if len(sub) < 4:
            print(f"accuracy {level}: only {len(sub)} runs reached it; train longer (--steps) to decompose")
            continue
        dec = variance_decomposition(sub, "distance", ["rule", "g0", "seed"])
        print(f"\naccuracy {level}: eta^2 rule {dec.loc['rule', 'eta_sq']:.2f}, "
              f"g0 {dec.loc['g0', 'eta_sq']:.2f}, seed {dec.loc['seed', 'eta_sq']:.2f}")

    # 6. model-model distances and dimensionality at the first level
    level = levels[0]
    if (ok["level"] == level).sum() < 2:
        print(f"fewer than 2 runs reached accuracy {level}; train longer (--steps) for model-model distances")
        return
    D = model_distances(runs, level, window=window, normalize=True)
    print(f"\nmodel-model distances at accuracy {level}:\n", D.round(3).to_pandas())
    for name in D["network"].values[:3]:
        step = int(ok[(ok["run"] == name) & (ok["level"] == level)]["step"].iloc[0])
        pr = participation_ratio(runs[name].activity(step).sel(time=slice(*window)))
        print(f"{name}: participation ratio {pr:.2f} at step {step}")

if __name__ == "__main__":
    main()
