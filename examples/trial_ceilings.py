"""Single trials: how close can a model get, given the data's trial-to-trial noise?

On simulated single trials with known ground truth (``neurosim.simulate_trials``), compares
three models with the data — the true condition means (a perfect model), the same means seen
through 100 extra pure-noise units, and the data's own average over 4 trials — by linear CKA,
angular Procrustes and ridge predictivity; reports raw, ceiling and ceiled scores (clipped at 1
with a flag), and draws the reliability of the trial average against trials per condition.

Run:  python examples/trial_ceilings.py --out results/trials     (about 10 s)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

import neurosim
from neurosim.baselines import ceiled_score, reliability_curve, split_half_reliability, trial_split_ceiling
from neurosim.plot import reliability_vs_trials, save_figure


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/trials"))
    p.add_argument("--trials", type=int, default=20, help="trials per condition")
    p.add_argument("--noise", type=float, default=1.5, help="single-trial noise SD (signal SD is about 1)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sim = neurosim.simulate_trials(n_conditions=8, n_trials=args.trials, n_time=20, n_units=30,
                                   noise=args.noise, seed=args.seed)
    rates, means = sim["rates"], sim["means"]
    rng = np.random.default_rng(args.seed)
    extra = xr.DataArray(rng.normal(size=(8, 20, 100)), dims=("condition", "time", "unit"),
                         coords={"condition": means.condition, "time": means.time, "unit": np.arange(30, 130)})
    models = {
        "true means": means,
        "true means + 100 noise units": xr.concat([means, extra], dim="unit"),
        "data, 4-trial average": rates.isel(trial=slice(0, 4)).mean("trial"),
    }
    data = rates.isel(trial=slice(4, None))  # held apart from the 4-trial model
    ceilings = {m: trial_split_ceiling(data, m, n_splits=50, progress=False) for m in ("cka", "procrustes")}
    unit_rel = split_half_reliability(data, n_splits=50)
    print(f"data: 8 conditions × {data.sizes['trial']} trials × 20 bins × 30 units; "
          f"median unit reliability (split-half, Spearman–Brown) {float(unit_rel.median()):.2f}")
    print("  (ceiling and ceiled on the similarity scale: cos d for Procrustes, in radians)")
    for name, model in models.items():
        for metric in ("cka", "procrustes", "ridge"):
            raw = neurosim.compare(model, data, metric)
            c = ceiled_score(raw, unit_rel if metric == "ridge" else ceilings[metric])
            flag = " (clipped)" if c.settings["clipped"] else ""
            print(f"  {name:30s} {metric:10s} raw {raw.value:6.3f} (similarity {c.settings['raw_similarity']:.3f})  "
                  f"ceiling {c.settings['ceiling']:.3f}  ceiled {c.value:.3f}{flag}")
    table = reliability_curve(sim, metric="cka", n_splits=20, seed=args.seed)
    table.to_csv(args.out / "reliability_vs_trials.csv", index=False)
    path = save_figure(reliability_vs_trials(table), args.out / "reliability_vs_trials.png")
    print(table.round(3).to_string(index=False))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
